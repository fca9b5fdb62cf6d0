// The function app's storage account: host storage (AzureWebJobsStorage, identity-based), the Flex Consumption
// deployment package container and the Event Grid dead-letter container. Shared-key (account key and SAS)
// access is off: every caller signs in with Microsoft Entra ID, including the person who reads dead letters
// (Storage Blob Data Reader on that one container, granted to the deployer's principal when given).

@description('Azure region for the storage account.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Blob container Event Grid writes undeliverable offer events to.')
param deadLetterContainerName string

@description('Days a dead-lettered event is kept before the lifecycle policy deletes it.')
@minValue(1)
param deadLetterRetentionDays int

@description('Principal id of the function app\'s user-assigned identity.')
param functionIdentityPrincipalId string

@description('Principal id of the Event Grid system topic\'s user-assigned identity.')
param eventGridIdentityPrincipalId string

@description('Object id of a person (or pipeline) allowed to read dead letters. Empty: nobody is granted access.')
param deadLetterReaderPrincipalId string

// Storage Blob Data Owner: what the Functions host needs on AzureWebJobsStorage (blob leases, keys, package).
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Blob Data Contributor: enough for Event Grid to write dead-letter blobs.
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
// Storage Blob Data Reader: list and read blobs, nothing else.
var storageBlobDataReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Default network action Allow - Flex Consumption without VNet integration reaches its host storage and deployment container over the public endpoint; Deny would break start-up and deployment. Shared-key access is off, so every request still needs an Entra token.
  // checkov:skip=CKV_AZURE_59: Public network access - same reason as CKV_AZURE_35 (no VNet in this template).
  // checkov:skip=CKV_AZURE_206: Replication - LRS is deliberate: the account holds only a rebuildable package, host leases and short-lived dead letters.
  // checkov:skip=CKV_AZURE_43: Name rules - the name is a parameter (checkov cannot evaluate it); main.bicep builds it as st + uniqueString(): 15 lowercase letters and digits.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    dnsEndpointType: 'Standard'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Dead letters are copies of offers that have long expired: keep them for inspection, not forever.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-dead-letters'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${deadLetterContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: deadLetterRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource functionBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionIdentityPrincipalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: functionIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridIdentityPrincipalId, storageBlobDataContributorRoleId)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: eventGridIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// No principalType: azd's AZURE_PRINCIPAL_ID is a user when run interactively and a service principal in a
// pipeline; Azure works the type out itself.
resource deadLetterReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deadLetterReaderPrincipalId)) {
  name: guid(deadLetterContainer.id, deadLetterReaderPrincipalId, storageBlobDataReaderRoleId)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReaderRoleId)
    principalId: deadLetterReaderPrincipalId
  }
}

output storageAccountName string = storage.name
output storageAccountId string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
output deadLetterContainerName string = deadLetterContainer.name
