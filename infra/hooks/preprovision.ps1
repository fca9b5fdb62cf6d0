#!/usr/bin/env pwsh
# azd preprovision hook for Windows (PowerShell 7); preprovision.sh does the same for POSIX shells.
# Check the inputs Bicep cannot check, before anything is deployed:
#   - ACS_RESOURCE_ID must be the id of a Communication Services resource.
#   - JOBROUTER_AUTH, if set, must be managedIdentity or accessKey.
#   - OFFER_POLICY_B64, if set, must be base64 of a JSON document, and not be set with OFFER_POLICY_FILE
#     (the app refuses both at once; failing here saves a deployment).
#   - A Communication Services resource may have only ONE Event Grid system topic. If ACS_SYSTEM_TOPIC_NAME is
#     unset and the Azure CLI can see an existing topic for the resource, adopt it instead of failing later.
# Everything here is read-only except `azd env set ACS_SYSTEM_TOPIC_NAME`.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Fail([string] $Message) {
    [Console]::Error.WriteLine("preprovision: $Message")
    exit 1
}

$acsId = "$env:ACS_RESOURCE_ID"
if (-not $acsId) {
    Fail 'ACS_RESOURCE_ID is not set. Run: azd env set ACS_RESOURCE_ID /subscriptions/<subscription-id>/resourceGroups/<group>/providers/Microsoft.Communication/communicationServices/<name>'
}
$acsIdLower = $acsId.ToLowerInvariant()
if ($acsIdLower -notmatch '^/subscriptions/[^/]*/resourcegroups/[^/]*/providers/microsoft\.communication/communicationservices/[^/]*$') {
    Fail "ACS_RESOURCE_ID is not a Communication Services resource id (expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Communication/communicationServices/<name>): $acsId"
}

$auth = if ($env:JOBROUTER_AUTH) { $env:JOBROUTER_AUTH } else { 'managedIdentity' }
if ($auth -cnotin @('managedIdentity', 'accessKey')) {
    Fail "JOBROUTER_AUTH must be managedIdentity or accessKey, not '$auth'"
}

if ($env:OFFER_POLICY_B64 -and $env:OFFER_POLICY_FILE) {
    Fail 'set OFFER_POLICY_B64 or OFFER_POLICY_FILE, not both (clear one with: azd env set OFFER_POLICY_FILE "")'
}

if ($env:OFFER_POLICY_B64) {
    try {
        $policyBytes = [Convert]::FromBase64String($env:OFFER_POLICY_B64)
    }
    catch {
        Fail 'OFFER_POLICY_B64 is not valid base64 (set it with: azd env set OFFER_POLICY_B64 ([Convert]::ToBase64String([IO.File]::ReadAllBytes("policy.json"))))'
    }
    try {
        [Text.Encoding]::UTF8.GetString($policyBytes) | ConvertFrom-Json | Out-Null
    }
    catch {
        Fail 'OFFER_POLICY_B64 does not decode to a JSON document'
    }
}

if (-not $env:ACS_SYSTEM_TOPIC_NAME) {
    if (Get-Command az -CommandType Application -ErrorAction SilentlyContinue) {
        $subscription = $acsId.Split('/')[2]
        # Resource ids compare case-insensitively; JMESPath cannot lower-case, so filter here.
        $existing = ''
        $topics = & az eventgrid system-topic list --subscription $subscription --query '[].[name, source]' -o tsv 2>$null
        if ($LASTEXITCODE -eq 0) {
            foreach ($line in @($topics)) {
                $fields = "$line".Split("`t")
                if ($fields.Count -ge 2 -and $fields[1].ToLowerInvariant() -eq $acsIdLower) {
                    $existing = $fields[0]
                    break
                }
            }
        }
        if ($existing) {
            Write-Output "preprovision: adopting the existing Event Grid system topic '$existing' of the Communication Services resource"
            & azd env set ACS_SYSTEM_TOPIC_NAME $existing
            if ($LASTEXITCODE -ne 0) { Fail 'azd env set ACS_SYSTEM_TOPIC_NAME failed' }
        }
    }
    else {
        Write-Output 'preprovision: Azure CLI not found; assuming the Communication Services resource has no Event Grid system topic yet (set ACS_SYSTEM_TOPIC_NAME if it has one)'
    }
}
exit 0
