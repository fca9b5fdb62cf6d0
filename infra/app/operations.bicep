// What an operator watches: an action group (e-mail optional), the operations workbook and the log alerts on
// the decision log and the host's request telemetry. Every query is a .kql file under queries/ (checked by
// Microsoft's Kusto language service in `make test`); those that read the decision log are deployed with
// queries/decision-lines.kql in front, which reads both telemetry modes. The Event Grid delivery alerts live
// beside the system topic (delivery-alerts.bicep). docs/deploy.md, "Operating it", says what each alert means.

@description('Azure region of the Application Insights component (log alerts are created in the same region).')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Resource id of the Application Insights component the queries run against.')
param applicationInsightsId string

@description('Resource id of the Event Grid system topic whose delivery metrics the workbook charts.')
param systemTopicId string

@description('Name of the action group.')
param actionGroupName string

@description('Address that receives alert e-mails. Empty: the action group notifies nobody (attach your own receivers).')
param alertEmail string

@description('Log alert: failed on_offer_issued invocations in 5 minutes above which it fires.')
@minValue(0)
param failedInvocationsThreshold int

@description('Log alert: percentage of offers already expired on arrival, over 15 minutes, above which it fires.')
@minValue(0)
@maxValue(100)
param expiredPercentThreshold int

@description('Log alert: 95th percentile of offer age at answer (ms), over 15 minutes, above which it fires.')
@minValue(1)
param offerAgeP95ThresholdMs int

@description('Prefix of the alert rule names.')
param namePrefix string

var decisionLines = loadTextContent('queries/decision-lines.kql')
var workbookTemplate = loadTextContent('workbook.json')
var actionGroups = [
  actionGroup.id
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'offers'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsightsId, 'offer-handler-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Job Router offer handler: operations'
    category: 'workbook'
    sourceId: toLower(applicationInsightsId)
    serializedData: replace(replace(workbookTemplate, '__APPLICATION_INSIGHTS_ID__', applicationInsightsId), '__SYSTEM_TOPIC_ID__', systemTopicId)
  }
}

resource configurationErrors 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-configuration-errors'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Offer handler: configuration error'
    description: 'An invocation failed because a setting, the policy, the decider or the credentials are wrong. Redelivery cannot fix it. See docs/deploy.md, Operating it.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    scopes: [
      applicationInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: concat(decisionLines, loadTextContent('queries/alerts/configuration-errors.kql'))
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource failedInvocations 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failed-invocations'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Offer handler: failed invocations'
    description: 'More on_offer_issued invocations failed than the threshold allows in 5 minutes. Event Grid redelivers them within the TTL. See docs/deploy.md, Operating it.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    scopes: [
      applicationInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/alerts/failed-invocations.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: failedInvocationsThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource expiredShare 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-expired-share'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Offer handler: offers expiring before they are answered'
    description: 'Too many offers had expired when the function got them (cold starts, a backlog, or an offer expiry too short for the delivery path). See docs/deploy.md, Operating it.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      applicationInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: concat(decisionLines, loadTextContent('queries/alerts/expired-share.kql'))
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'ExpiredPercent'
          operator: 'GreaterThan'
          threshold: expiredPercentThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource offerAgeP95 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-offer-age-p95'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Offer handler: offers answered late'
    description: 'The 95th percentile of offer age at answer is above the threshold: offers are close to expiring before they are answered. See docs/deploy.md, Operating it.'
    severity: 3
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      applicationInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: concat(decisionLines, loadTextContent('queries/alerts/offer-age-p95.kql'))
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'OfferAgeP95Ms'
          operator: 'GreaterThan'
          threshold: offerAgeP95ThresholdMs
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

output actionGroupId string = actionGroup.id
output workbookId string = workbook.id
