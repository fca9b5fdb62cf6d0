#!/usr/bin/env pwsh
# azd postdeploy hook for Windows (PowerShell 7); postdeploy.sh does the same for POSIX shells. After every
# `azd deploy` / `azd up`:
#
# 1. First deploy only: create the Event Grid subscription. Event Grid validates an AzureFunction endpoint when
#    the subscription is created, so it can exist only once the host has indexed on_offer_issued; provision
#    therefore runs with EVENT_SUBSCRIPTION_ENABLED=false the first time. This hook waits (bounded) for the
#    function, then deploys infra/app/events.bicep once more, as ONE `az deployment group create` into the
#    Communication Services resource group, with the parameters the last provision gave that module (read from
#    its deployment record) and createEventSubscription=true. It then sets EVENT_SUBSCRIPTION_ENABLED=true, so
#    later provisions keep the subscription in the template.
# 2. Every deploy: GET https://<app host>/api/health with the app's default function key (header
#    x-functions-key). 200 is healthy; anything else, after a bounded wait, fails the deploy with the failing
#    checks and what to do. The key is never printed and never put on a command line: curl reads it from stdin.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Fail([string] $Message) {
    [Console]::Error.WriteLine("postdeploy: $Message")
    exit 1
}

function Get-HookSetting([string] $Name, [string] $Default, [string] $Missing) {
    $value = [Environment]::GetEnvironmentVariable($Name)
    if ($value) { return $value }
    if ($Missing) { Fail $Missing }
    return $Default
}

$app = Get-HookSetting 'AZURE_FUNCTION_APP_NAME' '' 'AZURE_FUNCTION_APP_NAME is not set (run azd provision first)'
$group = Get-HookSetting 'AZURE_RESOURCE_GROUP' '' 'AZURE_RESOURCE_GROUP is not set (run azd provision first)'
$functionName = Get-HookSetting 'AZURE_FUNCTION_NAME' 'on_offer_issued' ''
$tries = [int](Get-HookSetting 'FUNCTION_INDEX_WAIT_TRIES' '30' '')
$delay = [double](Get-HookSetting 'FUNCTION_INDEX_WAIT_SECONDS' '10' '')
$healthTries = [int](Get-HookSetting 'HEALTH_CHECK_TRIES' '12' '')
$healthDelay = [double](Get-HookSetting 'HEALTH_CHECK_WAIT_SECONDS' '10' '')
# The name main.bicep gives the events module's deployment, and the module's parameters it passes.
$eventsDeployment = 'events'
$eventsTemplate = Join-Path $PSScriptRoot '..' 'app' 'events.bicep'
$eventsParameters = @(
    'communicationServicesName', 'systemTopicName', 'tags', 'eventGridIdentityId', 'eventSubscriptionName',
    'functionAppId', 'functionName', 'eventDeliverySchema', 'eventTimeToLiveInMinutes', 'maxDeliveryAttempts',
    'deadLetterStorageAccountId', 'deadLetterContainerName'
)

if (-not (Get-Command az -CommandType Application -ErrorAction SilentlyContinue)) {
    Fail "the Azure CLI (az) is needed to create the event subscription and check the app's health: install it, run az login, then run: azd hooks run postdeploy"
}
$curl = Get-Command curl -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $curl) {
    Fail "curl is needed to call the app's health endpoint: install it, then run: azd hooks run postdeploy"
}

$scratch = Join-Path ([IO.Path]::GetTempPath()) ([IO.Path]::GetRandomFileName())
New-Item -ItemType Directory -Path $scratch | Out-Null
try {
    # --- 1. the event subscription (first deploy only) --------------------------------------------------------
    if ($env:EVENT_SUBSCRIPTION_ENABLED -eq 'true') {
        Write-Output 'postdeploy: the Event Grid subscription is already part of the deployment'
    }
    else {
        $acsId = Get-HookSetting 'ACS_RESOURCE_ID' '' 'ACS_RESOURCE_ID is not set (azd env set ACS_RESOURCE_ID ...)'
        $acsGroup = Get-HookSetting 'ACS_RESOURCE_GROUP' '' 'ACS_RESOURCE_GROUP is not set (run azd provision first)'
        $acsSubscription = $acsId.Split('/')[2]

        $attempt = 1
        while ($true) {
            & az functionapp function show --resource-group $group --name $app --function-name $functionName `
                --query name -o tsv *> $null
            if ($LASTEXITCODE -eq 0) { break }
            if ($attempt -ge $tries) {
                Fail "$functionName is not indexed in $app after $tries checks; check the deployment logs (a failed remote build of requirements.txt?), then run: azd hooks run postdeploy"
            }
            $attempt++
            Start-Sleep -Seconds $delay
        }
        Write-Output "postdeploy: $functionName is indexed in $app"

        $query = '{' + (($eventsParameters | ForEach-Object { "${_}: {value: properties.parameters.$_.value}" }) -join ', ') + '}'
        $parametersFile = Join-Path $scratch 'parameters.json'
        $parameters = & az deployment group show --subscription $acsSubscription --resource-group $acsGroup `
            --name $eventsDeployment --query $query -o json
        if ($LASTEXITCODE -ne 0) {
            Fail "cannot read the '$eventsDeployment' deployment in $acsGroup that azd provision made; run azd provision, then: azd hooks run postdeploy"
        }
        Set-Content -Path $parametersFile -Value $parameters -Encoding utf8NoBOM
        & az deployment group create --subscription $acsSubscription --resource-group $acsGroup `
            --name $eventsDeployment --template-file $eventsTemplate `
            --parameters "@$parametersFile" --parameters createEventSubscription=true `
            --only-show-errors -o none
        if ($LASTEXITCODE -ne 0) {
            Fail 'the event subscription could not be created (the error is above); fix it, then run: azd hooks run postdeploy'
        }
        & azd env set EVENT_SUBSCRIPTION_ENABLED true
        if ($LASTEXITCODE -ne 0) { Fail 'azd env set EVENT_SUBSCRIPTION_ENABLED true failed' }
        Write-Output "postdeploy: created the Event Grid subscription for $functionName"
    }

    # --- 2. the health check (every deploy) ---------------------------------------------------------------------
    $hostName = & az functionapp show --resource-group $group --name $app --query defaultHostName -o tsv
    if ($LASTEXITCODE -ne 0) { Fail "cannot read the host name of $app" }
    $key = & az functionapp keys list --resource-group $group --name $app --query functionKeys.default -o tsv
    if ($LASTEXITCODE -ne 0) {
        Fail "cannot list the function keys of $app (the signed-in identity needs Contributor or Website Contributor on it)"
    }
    if (-not "$key".Trim()) {
        Fail "$app has no default function key; create one with az functionapp keys set, then run: azd hooks run postdeploy"
    }
    $url = "https://$("$hostName".Trim())/api/health"
    $bodyFile = Join-Path $scratch 'body'
    $errorFile = Join-Path $scratch 'curl-error'

    $attempt = 1
    while ($true) {
        $config = 'header = "x-functions-key: {0}"' -f "$key".Trim()
        $status = $config | & $curl.Source --silent --show-error --config - --output $bodyFile `
            --write-out '%{http_code}' --max-time 30 $url 2> $errorFile
        if ($LASTEXITCODE -ne 0 -or -not $status) { $status = '000' }
        $status = "$status".Trim()
        if ($status -eq '200' -or $attempt -ge $healthTries) { break }
        $attempt++
        Start-Sleep -Seconds $healthDelay
    }

    if ($status -eq '200') {
        Write-Output "postdeploy: $url answered 200: healthy"
        exit 0
    }

    $body = if (Test-Path $bodyFile) { Get-Content -Raw $bodyFile } else { '' }
    $report = @("postdeploy: the app is NOT healthy: GET $url answered $status after $attempt tries.")
    switch ($status) {
        '503' {
            $report += 'The checks it reported:', $body, 'What to do:',
            '  - Right after the first deployment, Job Router checks fail with 401/403 until the new role assignment',
            '    propagates (5-10 minutes): wait, then run: azd hooks run postdeploy',
            '  - If they keep failing, switch to the access-key path:',
            '    azd env set JOBROUTER_AUTH accessKey && azd provision && azd deploy',
            '  - Any other failing check names the app setting to fix (docs/deploy.md).'
        }
        { $_ -in '401', '403' } {
            $report += 'The function key was refused. Run azd hooks run postdeploy again; if it persists, check the app''s keys with az functionapp keys list.'
        }
        '404' {
            $report += 'The deployed app has no health function: run azd deploy again, and check the deployment logs.'
        }
        '000' {
            $report += "The app could not be reached: $(Get-Content -Raw $errorFile)",
            "Check that $app is running (az functionapp show --query state), then run: azd hooks run postdeploy"
        }
        default {
            $report += $body, 'Check the app''s logs in Application Insights, then run: azd hooks run postdeploy'
        }
    }
    [Console]::Error.WriteLine(($report -join [Environment]::NewLine))
    exit 1
}
finally {
    Remove-Item -Recurse -Force $scratch -ErrorAction SilentlyContinue
}
