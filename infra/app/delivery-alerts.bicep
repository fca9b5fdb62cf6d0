// Deployed into the resource group of the Communication Services resource, beside its Event Grid system topic:
// metric alerts on the topic's delivery metrics. Any dead-lettered or dropped event is an offer the function
// never answered. The rules split by event subscription, so on a topic shared with other subscriptions each
// alert names the subscription it is about (ours is offer-issued-to-<app>).

@description('Name of the Event Grid system topic of the Communication Services resource.')
param systemTopicName string

@description('Tags applied to every resource.')
param tags object

@description('Resource id of the action group the alerts notify.')
param actionGroupId string

@description('Prefix of the alert rule names.')
param namePrefix string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource deadLettered 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-dead-lettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid dead-lettered an offer event: the function never answered that offer. Read the blob in offer-dead-letters (docs/deploy.md, Operating it).'
    severity: 1
    enabled: true
    scopes: [
      systemTopic.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLettered'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DeadLetteredCount'
          dimensions: [
            {
              name: 'EventSubscriptionName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

resource dropped 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-dropped'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid dropped an offer event without dead-lettering it (for example, the dead-letter container was unreachable for hours). Nothing is left to read. See docs/deploy.md, Operating it.'
    severity: 1
    enabled: true
    scopes: [
      systemTopic.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'Dropped'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DroppedEventCount'
          dimensions: [
            {
              name: 'EventSubscriptionName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}
