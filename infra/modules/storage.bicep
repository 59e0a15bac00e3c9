// Conversations' files in Blob Storage, keyless: shared keys are off and only the app's identity
// (and the deploying user, for local runs) may read and write blobs, in one container.
param name string
param location string
param tags object
param containerName string
param appPrincipalId string
param userPrincipalId string
param userPrincipalType string

var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the Container Apps environment has no VNet, so its outbound addresses are not fixed; shared keys are off, so every call needs an Entra token holding the Blob Data Contributor role.
  // checkov:skip=CKV_AZURE_59: public network access for the same reason (no VNet, no private endpoint); anonymous blob access is off and only Entra tokens are accepted.
  // checkov:skip=CKV_AZURE_206: LRS keeps three copies in one region; geo-replication would double the cost of files that are copies of the sessions' work.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // The app's outbound addresses are not fixed without a VNet; Entra-only auth keeps others out.
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource appRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, appPrincipalId, blobDataContributorRoleId)
  scope: container
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
  }
}

resource userRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(container.id, userPrincipalId, blobDataContributorRoleId)
  scope: container
  properties: {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
  }
}

output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerName string = container.name
