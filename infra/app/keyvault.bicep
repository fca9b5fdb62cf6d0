// Access-key mode only: a Key Vault holding the Communication Services connection string, read by the function's
// identity through a Key Vault reference in its app settings. The value is copied from the resource's own keys
// at deployment (listKeys); it never appears in the template, the parameters or an output.

@description('Azure region for the vault.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Key Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Subscription id of the existing Communication Services resource.')
param communicationServicesSubscriptionId string

@description('Resource group of the existing Communication Services resource.')
param communicationServicesResourceGroupName string

@description('Name of the existing Communication Services resource.')
param communicationServicesName string

@description('Principal id of the function app\'s user-assigned identity.')
param functionIdentityPrincipalId string

@description('Name of the secret that holds the connection string.')
param secretName string = 'jobrouter-connection-string'

// Key Vault Secrets User: read secret contents, nothing else.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource communicationServices 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServicesName
  scope: resourceGroup(communicationServicesSubscriptionId, communicationServicesResourceGroupName)
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Firewall default Allow - without VNet integration, App Service resolves Key Vault references over the public endpoint; a Deny rule would break the reference. Access is RBAC-only (one role, one secret).
  // checkov:skip=CKV_AZURE_189: Public network access - same reason as CKV_AZURE_109 (no VNet in this template).
  // checkov:skip=CKV_AZURE_110: Purge protection - the only secret is a copy of the Communication Services key that `azd provision` recreates; with purge protection a soft-deleted vault name can be neither reused nor purged, so `azd down` then `azd up` of the same environment would fail for the retention period. Soft delete stays on.
  // checkov:skip=CKV_AZURE_42: Recoverable - soft delete is on (7 days); see CKV_AZURE_110 for why purge protection is off.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource connectionString 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: Expiration date - Communication Services access keys do not expire; an expiry here would silently break the Key Vault reference on that date. Rotate by regenerating the key and re-running `azd provision` (docs/deploy.md).
  parent: vault
  name: secretName
  properties: {
    contentType: 'Azure Communication Services connection string (endpoint=...;accesskey=...)'
    value: communicationServices.listKeys().primaryConnectionString
    attributes: {
      enabled: true
    }
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(connectionString.id, functionIdentityPrincipalId, keyVaultSecretsUserRoleId)
  scope: connectionString
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: functionIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Version-less URI: the app setting follows the latest version, so re-running `azd provision` after a key
// rotation is enough (App Service refreshes version-less references within 24 hours, or on restart).
output secretUri string = connectionString.properties.secretUri
output keyVaultName string = vault.name
