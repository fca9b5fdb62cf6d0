// azd entry point: the Job Router offer handler on Azure Functions Flex Consumption, wired to an EXISTING
// Communication Services resource (Job Router can no longer be enabled on new resources) through a filtered,
// time-boxed, dead-lettered Event Grid subscription. Every parameter is described in docs/deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the names of every resource this template creates.')
param environmentName string

@minLength(1)
@description('Azure region for the function app and its resources (one where Flex Consumption is available).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

@minLength(1)
@description('Resource id of the existing Communication Services resource with Job Router: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Communication/communicationServices/<name>.')
param communicationServicesResourceId string

@description('How the function authenticates to Job Router: its managed identity (no secret anywhere), or the resource\'s access key kept in Key Vault.')
@allowed([
  'managedIdentity'
  'accessKey'
])
param jobRouterAuth string = 'managedIdentity'

@description('Built-in role granted to the function identity on the Communication Services resource in managedIdentity mode. Default: Communication and Email Service Owner (see docs/deploy.md for why, and the alternative).')
@minLength(36)
@maxLength(36)
param jobRouterRoleDefinitionId string = '09976791-48a7-449e-bb21-39d1a415f350'

@description('Event Grid delivery schema. The function accepts both.')
@allowed([
  'EventGridSchema'
  'CloudEventSchemaV1_0'
])
param eventDeliverySchema string = 'EventGridSchema'

@description('Minutes Event Grid keeps retrying an offer event. An offer is worthless once it expires: keep this at or below your distribution policies\' offerExpiresAfterSeconds.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 5

@description('Delivery attempts before an event is dead-lettered; the TTL usually ends delivery first.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 10

@description('Create the event subscriptions (offers, and the bot fleet\'s worker lifecycle events). The postdeploy hook sets this once the functions exist (Event Grid validates the AzureFunction endpoint when a subscription is created).')
param createEventSubscription bool = false

@description('Name of the Communication Services resource\'s Event Grid system topic. Empty: <acs-name>-events. Set it when the resource already has one (one per source is allowed); the preprovision hook looks it up.')
param systemTopicName string = ''

@description('OFFER_POLICY_FILE: a policy JSON shipped in the deployment package, relative to the app root. Empty: not set.')
param offerPolicyFile string = ''

@description('OFFER_POLICY: the policy JSON itself, base64-encoded (so azd\'s parameter substitution cannot break its quotes). Empty: not set.')
param offerPolicyBase64 string = ''

@description('OFFER_DECIDER: package.module:function of your own decider, shipped in the package. Empty: the policy engine decides.')
param offerDecider string = ''

@description('FLEET_FILE: the bot fleet JSON shipped in the deployment package, relative to the app root. Empty: not set (no fleet unless fleetBase64 is set; the app then touches no worker).')
param fleetFile string = ''

@description('FLEET: the bot fleet JSON itself, base64-encoded (so azd\'s parameter substitution cannot break its quotes). Empty: not set.')
param fleetBase64 string = ''

@description('FLEET_RECONCILE_SCHEDULE: when reconcile_fleet runs (NCRONTAB with seconds, e.g. 0 */2 * * * *). Empty: not set, every minute.')
param fleetReconcileSchedule string = ''

@description('Upper bound on Flex Consumption instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per Flex Consumption instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Days a dead-lettered event is kept.')
@minValue(1)
param deadLetterRetentionDays int = 30

@description('Always-ready instances for on_offer_issued (billed around the clock). 0 lets it scale to zero, and a cold start can then outlast an offer (see docs/deploy.md).')
@minValue(0)
@maxValue(20)
param alwaysReadyInstanceCount int = 1

@description('How deployments and setting changes replace instances. RollingUpdate (preview) lets in-flight offers finish; Recreate ends them (see docs/deploy.md).')
@allowed([
  'RollingUpdate'
  'Recreate'
])
param siteUpdateStrategy string = 'RollingUpdate'

@description('PYTHON_THREADPOOL_THREAD_COUNT: synchronous invocations one worker process runs at once (the default pool is vCPUs + 4).')
@minValue(1)
@maxValue(128)
param pythonThreadpoolThreadCount int = 32

@description('Telemetry: classic (the host sends Application Insights telemetry) or openTelemetry (host and Python worker export OpenTelemetry to the same resource).')
@allowed([
  'classic'
  'openTelemetry'
])
param telemetryMode string = 'classic'

@description('Object id granted Storage Blob Data Reader on the dead-letter container. azd passes the signed-in principal. Empty: nobody.')
param principalId string = ''

@description('E-mail address the alerts notify. Empty: the action group has no receivers.')
param alertEmail string = ''

@description('Failed on_offer_issued invocations in 5 minutes above which the failed-invocations alert fires.')
@minValue(0)
param failedInvocationsThreshold int = 5

@description('Percentage of offers already expired on arrival, over 15 minutes, above which the expired-share alert fires.')
@minValue(0)
@maxValue(100)
param expiredPercentThreshold int = 5

@description('95th percentile of offer age at answer, in ms over 15 minutes, above which the offer-age alert fires.')
@minValue(1)
param offerAgeP95ThresholdMs int = 2000

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// /subscriptions/{0}/resourceGroups/{1}/providers/Microsoft.Communication/communicationServices/{2}
var acsIdParts = split(communicationServicesResourceId, '/')
var acsSubscriptionId = acsIdParts[2]
var acsResourceGroupName = acsIdParts[4]
var acsName = acsIdParts[8]
var useManagedIdentity = jobRouterAuth == 'managedIdentity'
var functionAppName = 'func-${resourceToken}'
var serviceName = 'offer-handler'
var functionName = 'on_offer_issued'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'offer-dead-letters'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identities 'app/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
    functionIdentityName: 'id-func-${resourceToken}'
    eventGridIdentityName: 'id-evgt-${resourceToken}'
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    functionIdentityPrincipalId: identities.outputs.functionIdentityPrincipalId
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: 'st${resourceToken}'
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    deadLetterRetentionDays: deadLetterRetentionDays
    functionIdentityPrincipalId: identities.outputs.functionIdentityPrincipalId
    eventGridIdentityPrincipalId: identities.outputs.eventGridIdentityPrincipalId
    deadLetterReaderPrincipalId: principalId
  }
}

module communication 'app/communication.bicep' = {
  name: 'communication'
  scope: resourceGroup(acsSubscriptionId, acsResourceGroupName)
  params: {
    communicationServicesName: acsName
    grantJobRouterRole: useManagedIdentity
    functionIdentityPrincipalId: identities.outputs.functionIdentityPrincipalId
    jobRouterRoleDefinitionId: jobRouterRoleDefinitionId
  }
}

module keyVault 'app/keyvault.bicep' = if (!useManagedIdentity) {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    keyVaultName: 'kv-${resourceToken}'
    communicationServicesSubscriptionId: acsSubscriptionId
    communicationServicesResourceGroupName: acsResourceGroupName
    communicationServicesName: acsName
    functionIdentityPrincipalId: identities.outputs.functionIdentityPrincipalId
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    location: location
    tags: tags
    serviceName: serviceName
    planName: 'plan-${resourceToken}'
    functionAppName: functionAppName
    functionIdentityId: identities.outputs.functionIdentityId
    functionIdentityClientId: identities.outputs.functionIdentityClientId
    storageAccountName: storage.outputs.storageAccountName
    blobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    pythonVersion: '3.13'
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    jobRouterEndpoint: useManagedIdentity ? communication.outputs.endpoint : ''
    jobRouterConnectionStringSecretUri: useManagedIdentity ? '' : keyVault.outputs.secretUri
    offerPolicyFile: offerPolicyFile
    offerPolicyBase64: offerPolicyBase64
    offerDecider: offerDecider
    fleetFile: fleetFile
    fleetBase64: fleetBase64
    fleetReconcileSchedule: fleetReconcileSchedule
    functionName: functionName
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    siteUpdateStrategy: siteUpdateStrategy
    pythonThreadpoolThreadCount: pythonThreadpoolThreadCount
    telemetryMode: telemetryMode
  }
}

module events 'app/events.bicep' = {
  name: 'events'
  scope: resourceGroup(acsSubscriptionId, acsResourceGroupName)
  params: {
    communicationServicesName: acsName
    systemTopicName: empty(systemTopicName) ? '${acsName}-events' : systemTopicName
    tags: tags
    eventGridIdentityId: identities.outputs.eventGridIdentityId
    createEventSubscription: createEventSubscription
    eventSubscriptionName: 'offer-issued-to-${functionAppName}'
    functionAppId: functionApp.outputs.functionAppId
    functionName: functionName
    eventDeliverySchema: eventDeliverySchema
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    maxDeliveryAttempts: maxDeliveryAttempts
    deadLetterStorageAccountId: storage.outputs.storageAccountId
    deadLetterContainerName: storage.outputs.deadLetterContainerName
  }
}

module operations 'app/operations.bicep' = {
  name: 'operations'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    systemTopicId: events.outputs.systemTopicId
    actionGroupName: 'ag-${resourceToken}'
    alertEmail: alertEmail
    failedInvocationsThreshold: failedInvocationsThreshold
    expiredPercentThreshold: expiredPercentThreshold
    offerAgeP95ThresholdMs: offerAgeP95ThresholdMs
    namePrefix: 'alert-${resourceToken}'
  }
}

module deliveryAlerts 'app/delivery-alerts.bicep' = {
  name: 'delivery-alerts'
  scope: resourceGroup(acsSubscriptionId, acsResourceGroupName)
  params: {
    systemTopicName: events.outputs.systemTopicName
    tags: tags
    actionGroupId: operations.outputs.actionGroupId
    namePrefix: 'alert-${resourceToken}'
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.functionAppName
output AZURE_FUNCTION_NAME string = functionName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.storageAccountName
output DEAD_LETTER_CONTAINER string = storage.outputs.deadLetterContainerName
output ACS_RESOURCE_GROUP string = acsResourceGroupName
output ACS_SYSTEM_TOPIC_NAME string = events.outputs.systemTopicName
output EVENT_SUBSCRIPTION_NAME string = events.outputs.eventSubscriptionName
output LIFECYCLE_SUBSCRIPTION_NAME string = events.outputs.lifecycleSubscriptionName
output JOBROUTER_AUTH string = jobRouterAuth
