// Deployed into the resource group of the EXISTING Communication Services resource (Job Router cannot be
// enabled on new resources). Reads its endpoint and, in managed-identity mode, lets the function's identity
// call the Job Router data plane.
//
// Which built-in role? Microsoft documents no role specific to Job Router. The only Communication
// Services-specific built-in role is "Communication and Email Service Owner" (09976791-...), which
// Microsoft's SMTP-authentication article says "gives access to all Communication and Email service
// operations"; the older Entra ID quickstart for Communication Services uses the broad "Contributor". The
// default below is the narrower of the two, scoped to this one resource. See docs/deploy.md, "Identity and
// the Job Router role", for the sources and how to verify it on a real resource.

@description('Name of the existing Communication Services resource.')
param communicationServicesName string

@description('True: grant the function identity the Job Router role. False (access-key mode): grant nothing.')
param grantJobRouterRole bool

@description('Principal id of the function app\'s user-assigned identity.')
param functionIdentityPrincipalId string

@description('Built-in role definition id (a GUID) granted on the Communication Services resource.')
param jobRouterRoleDefinitionId string

resource communicationServices 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServicesName
}

resource jobRouterAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantJobRouterRole) {
  name: guid(communicationServices.id, functionIdentityPrincipalId, jobRouterRoleDefinitionId)
  scope: communicationServices
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', jobRouterRoleDefinitionId)
    principalId: functionIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// No trailing slash: the SDK signs the host it is given (see the Job Router reference, section 1.3).
output endpoint string = 'https://${communicationServices.properties.hostName}'
output resourceId string = communicationServices.id
