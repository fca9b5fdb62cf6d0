// Log Analytics + workspace-based Application Insights with local (instrumentation-key) auth switched off:
// telemetry is accepted only from a Microsoft Entra identity holding Monitoring Metrics Publisher, which
// the function's user-assigned identity gets here. The app sets
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING=ClientId=<id>;Authorization=AAD to use it. Ingestion sampling is
// pinned off (100 %): the decision log is the audit trail and must arrive whole (docs/deploy.md).

@description('Azure region for the workspace and the component.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Principal id of the function app\'s user-assigned identity.')
param functionIdentityPrincipalId string

@description('Days of log retention (30 is the minimum and is included in the Pay-As-You-Go price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

// Monitoring Metrics Publisher: the built-in role Application Insights requires for Entra ID-authenticated ingestion.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
    SamplingPercentage: 100
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionIdentityPrincipalId, monitoringMetricsPublisherRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: functionIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
// Not a secret: with DisableLocalAuth the instrumentation key in it cannot ingest on its own.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
