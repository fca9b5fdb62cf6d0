// Two user-assigned identities, one per job, so neither holds rights it does not use:
//   - the function's identity: host storage, Application Insights, Job Router (or the Key Vault secret);
//   - the Event Grid system topic's identity: writes undeliverable events to the dead-letter container.

@description('Azure region for the identities.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the function app\'s user-assigned identity.')
param functionIdentityName string

@description('Name of the Event Grid system topic\'s user-assigned identity (dead-lettering).')
param eventGridIdentityName string

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: functionIdentityName
  location: location
  tags: tags
}

resource eventGridIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output functionIdentityId string = functionIdentity.id
output functionIdentityClientId string = functionIdentity.properties.clientId
output functionIdentityPrincipalId string = functionIdentity.properties.principalId
output eventGridIdentityId string = eventGridIdentity.id
output eventGridIdentityPrincipalId string = eventGridIdentity.properties.principalId
