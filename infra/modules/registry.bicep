// The registry azd builds the image into (remote build); the app pulls with its identity, never a password.
param name string
param location string
param tags object
param pullPrincipalId string

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139: azd's remote build and the Container Apps pull use the public endpoint; private endpoints need the Premium SKU and a VNet.
  // checkov:skip=CKV_AZURE_163: image scanning is Microsoft Defender for Containers, a subscription-wide paid plan to enable outside this template.
  // checkov:skip=CKV_AZURE_166: quarantine needs the Premium SKU (about 10x Basic); only azd pushes here, from this repository's locked build.
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, pullPrincipalId, acrPullRoleId)
  scope: registry
  properties: {
    principalId: pullPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
  }
}

output loginServer string = registry.properties.loginServer
