// Deployed into the resource group of the existing Communication Services resource, where Event Grid keeps a
// source's system topic. One system topic is allowed per source: when the resource already has one (look under
// "Events" on the resource), pass its name and this module adopts it (and adds the dead-letter identity).
//
// Two subscriptions, both through the AzureFunction endpoint type (Event Grid calls the function through the
// platform; no webhook URL, no key in any URL), one event per request (a failed batch is redelivered whole),
// for no longer than an offer can live, dead-lettering what they could not deliver to a blob container,
// writing as a user-assigned identity (shared keys are off). Their delivery settings are the same:
// - offers: ONLY RouterWorkerOfferIssued, to on_offer_issued;
// - the bot fleet: ONLY RouterWorkerOfferExpired and RouterWorkerDeregistered, to on_worker_lifecycle (it
//   registers a declared bot again; an event it never gets is caught by the next reconciliation run).

@description('Name of the existing Communication Services resource (the event source).')
param communicationServicesName string

@description('Name of the Event Grid system topic for that resource (adopted if it exists).')
param systemTopicName string

@description('Tags for the system topic.')
param tags object

@description('Resource id of the user-assigned identity Event Grid writes dead letters as.')
param eventGridIdentityId string

@description('Create the event subscriptions. False on the first provision: the functions must exist first.')
param createEventSubscription bool

@description('Name of the offer event subscription.')
param eventSubscriptionName string

@description('Resource id of the function app.')
param functionAppId string

@description('Name of the Event Grid-triggered function that decides offers, as the Functions host indexes it.')
param functionName string

@description('Delivery schema: Event Grid schema or CloudEvents 1.0. The function handles both.')
@allowed([
  'EventGridSchema'
  'CloudEventSchemaV1_0'
])
param eventDeliverySchema string

@description('Minutes Event Grid keeps retrying an event. Keep it at or below the offer expiry of your distribution policies.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int

@description('Delivery attempts before an event is dead-lettered (whichever of this and the TTL comes first).')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int

@description('Resource id of the storage account holding the dead-letter container.')
param deadLetterStorageAccountId string

@description('Blob container for undeliverable events.')
param deadLetterContainerName string

// The bot fleet's subscription is named and aimed here, not by parameters: a redeployment of this module with
// the offer subscription's parameters only (the postdeploy hook's) then creates it the same way. The function
// is the one function_app.py registers; the app's name is the last segment of its resource id.
var lifecycleFunctionName = 'on_worker_lifecycle'
var lifecycleSubscriptionName = 'worker-lifecycle-to-${last(split(functionAppId, '/'))}'

resource communicationServices 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServicesName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: communicationServices.id
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

resource offerIssuedSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (createEventSubscription) {
  parent: systemTopic
  name: eventSubscriptionName
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: eventDeliverySchema
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.RouterWorkerOfferIssued'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

// The same delivery settings as the offer subscription; only the function and the event types differ.
resource workerLifecycleSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (createEventSubscription) {
  parent: systemTopic
  name: lifecycleSubscriptionName
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${lifecycleFunctionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: eventDeliverySchema
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.RouterWorkerOfferExpired'
        'Microsoft.Communication.RouterWorkerDeregistered'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicName string = systemTopic.name
output systemTopicId string = systemTopic.id
output eventSubscriptionName string = createEventSubscription ? eventSubscriptionName : ''
output lifecycleSubscriptionName string = createEventSubscription ? lifecycleSubscriptionName : ''
