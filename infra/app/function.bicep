// The Flex Consumption function app (Linux, Python) that runs on_offer_issued, signed in everywhere as its
// user-assigned identity: host storage, deployment package, Application Insights, Job Router or Key Vault.
// on_offer_issued keeps always-ready instances (offers live seconds; a cold start can outlast one), deploys roll
// instance by instance (in-flight offers finish), and the telemetry mode is chosen per environment through app
// settings, because host.json ships in the package. docs/deploy.md explains each choice.
// Legacy settings that Flex ignores or rejects (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE, linuxFxVersion, ...) are deliberately absent: functionAppConfig replaces them.

@description('Azure region for the plan and the app.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('azd service name from azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string

@description('Flex Consumption plan name.')
param planName string

@description('Function app name (globally unique host name).')
param functionAppName string

@description('Resource id of the function app\'s user-assigned identity.')
param functionIdentityId string

@description('Client id of the function app\'s user-assigned identity (AZURE_CLIENT_ID).')
param functionIdentityClientId string

@description('Storage account used for AzureWebJobsStorage and the deployment package.')
param storageAccountName string

@description('Blob endpoint of that storage account, with a trailing slash.')
param blobEndpoint string

@description('Blob container Flex Consumption deploys the package to.')
param deploymentContainerName string

@description('Application Insights connection string (local auth is off; ingestion needs the identity).')
param applicationInsightsConnectionString string

@description('Python version of the Flex Consumption runtime.')
param pythonVersion string

@description('Upper bound on instances Flex Consumption may scale out to.')
param maximumInstanceCount int

@description('Memory per instance in MB.')
param instanceMemoryMB int

@description('Job Router endpoint (https://<resource>.communication.azure.com), managed-identity mode. Empty in access-key mode.')
param jobRouterEndpoint string

@description('Key Vault secret URI of the Job Router connection string, access-key mode. Empty in managed-identity mode.')
param jobRouterConnectionStringSecretUri string

@description('OFFER_POLICY_FILE: path of a policy shipped in the package, relative to the app root. Empty: not set.')
param offerPolicyFile string

@description('OFFER_POLICY as base64 of the policy JSON (base64 survives azd parameter substitution). Empty: not set.')
param offerPolicyBase64 string

@description('OFFER_DECIDER: package.module:function of a custom decider shipped in the package. Empty: not set.')
param offerDecider string

@description('FLEET_FILE: path of the bot fleet shipped in the package, relative to the app root. Empty: not set.')
param fleetFile string

@description('FLEET as base64 of the fleet JSON (base64 survives azd parameter substitution). Empty: not set.')
param fleetBase64 string

@description('FLEET_RECONCILE_SCHEDULE: the reconciliation timer\'s NCRONTAB schedule. Empty: not set (every minute).')
param fleetReconcileSchedule string

@description('Name of the Event Grid-triggered function; its Flex Consumption scale group is function:<name>.')
param functionName string

@description('Always-ready instances kept for on_offer_issued\'s scale group (billed around the clock; see docs/deploy.md).')
@minValue(0)
param alwaysReadyInstanceCount int

@description('How deployments and setting changes replace instances: RollingUpdate lets in-flight executions finish.')
@allowed([
  'RollingUpdate'
  'Recreate'
])
param siteUpdateStrategy string

@description('PYTHON_THREADPOOL_THREAD_COUNT: how many synchronous invocations one worker process runs at once.')
@minValue(1)
@maxValue(128)
param pythonThreadpoolThreadCount int

@description('classic: the Functions host sends Application Insights telemetry. openTelemetry: host and Python worker export OpenTelemetry to the same Application Insights resource.')
@allowed([
  'classic'
  'openTelemetry'
])
param telemetryMode string

var identityMode = empty(jobRouterConnectionStringSecretUri)
var useOpenTelemetry = telemetryMode == 'openTelemetry'

// Settings every deployment sets. AZURE_CLIENT_ID makes DefaultAzureCredential pick the user-assigned identity.
var baseSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: functionIdentityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${functionIdentityClientId};Authorization=AAD'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: functionIdentityClientId
  }
  {
    name: 'PYTHON_THREADPOOL_THREAD_COUNT'
    value: string(pythonThreadpoolThreadCount)
  }
]

// OpenTelemetry mode. host.json ships in the package, so the environment's choice is an app setting that
// overrides it (AzureFunctionsJobHost__<path> is how app settings override host.json). The worker setting lets
// the Python worker export its own telemetry (and the host then drops its copy of the worker's logs). Both the
// host's and the Python exporter's samplers are pinned to 100 %: the host's exporter otherwise keeps about 5
// traces a second, and with trace-based log sampling a sampled-out trace would take decision lines with it.
var telemetrySettings = useOpenTelemetry ? [
  {
    name: 'AzureFunctionsJobHost__telemetryMode'
    value: 'OpenTelemetry'
  }
  {
    name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY'
    value: 'true'
  }
  {
    name: 'OTEL_TRACES_SAMPLER'
    value: 'microsoft.fixed_percentage'
  }
  {
    name: 'OTEL_TRACES_SAMPLER_ARG'
    value: '1.0'
  }
] : []

// Exactly one way to reach Job Router. The connection string is never in the template or the app's
// configuration: the setting holds a Key Vault reference that the platform resolves with the identity.
var jobRouterSettings = identityMode ? [
  {
    name: 'JOBROUTER_ENDPOINT'
    value: jobRouterEndpoint
  }
] : [
  {
    name: 'JOBROUTER_CONNECTION_STRING'
    value: '@Microsoft.KeyVault(SecretUri=${jobRouterConnectionStringSecretUri})'
  }
]

// Optional settings: with neither policy setting the app accepts every offer (see docs/deploy.md).
var policyFileSettings = empty(offerPolicyFile) ? [] : [
  {
    name: 'OFFER_POLICY_FILE'
    value: offerPolicyFile
  }
]
var policyInlineSettings = empty(offerPolicyBase64) ? [] : [
  {
    name: 'OFFER_POLICY'
    value: base64ToString(offerPolicyBase64)
  }
]
var deciderSettings = empty(offerDecider) ? [] : [
  {
    name: 'OFFER_DECIDER'
    value: offerDecider
  }
]

// The bot fleet (README.md, "The bot fleet"): with neither FLEET_FILE nor FLEET the app touches no worker.
var fleetFileSettings = empty(fleetFile) ? [] : [
  {
    name: 'FLEET_FILE'
    value: fleetFile
  }
]
var fleetInlineSettings = empty(fleetBase64) ? [] : [
  {
    name: 'FLEET'
    value: base64ToString(fleetBase64)
  }
]
var fleetScheduleSettings = empty(fleetReconcileSchedule) ? [] : [
  {
    name: 'FLEET_RECONCILE_SCHEDULE'
    value: fleetReconcileSchedule
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy - Flex Consumption offers it only in some regions and the template must deploy anywhere Flex runs; Event Grid retries cover a zone outage within the event TTL.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// 2025-05-01: a stable Microsoft.Web API whose REST schema (so Bicep's types) has functionAppConfig.siteUpdateStrategy.
resource functionApp 'Microsoft.Web/sites@2025-05-01' = {
  // checkov:skip=CKV_AZURE_222: Public network access stays on - Event Grid pushes to the AzureFunction endpoint from outside any VNet; this template has no VNet or private endpoint.
  // checkov:skip=CKV_AZURE_17: Client certificates - Event Grid presents none to an AzureFunction endpoint, so requiring them would stop delivery; the only other HTTP caller, the post-deploy health check, authenticates with a function key.
  // checkov:skip=CKV_AZURE_212: Minimum instances for failover - Flex Consumption has no instance minimum for the whole app; on_offer_issued keeps functionAppConfig.scaleAndConcurrency.alwaysReady instances (default 1), and Event Grid retries within the event TTL.
  // checkov:skip=CKV_AZURE_213: Health check - the platform health-check path is not configured: Flex Consumption manages instance health itself, and the app's function-key protected health function is for the post-deploy check, not for instance eviction.
  name: functionAppName
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${functionIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: functionIdentityId
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      ftpsState: 'Disabled'
      appSettings: concat(baseSettings, telemetrySettings, jobRouterSettings, policyFileSettings, policyInlineSettings, deciderSettings, fleetFileSettings, fleetInlineSettings, fleetScheduleSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: functionIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: [
          {
            name: 'function:${functionName}'
            instanceCount: alwaysReadyInstanceCount
          }
        ]
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
      siteUpdateStrategy: {
        type: siteUpdateStrategy
      }
    }
  }
}

// Deployments go through the Entra-authenticated OneDeploy API; basic (user/password) publishing stays off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

output functionAppName string = functionApp.name
output functionAppId string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
