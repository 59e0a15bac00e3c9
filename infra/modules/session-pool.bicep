// Azure's dynamic-sessions pool (Hyper-V isolated Python), and who may run code in it.
param name string
param location string
param tags object
param egressEnabled bool
param cooldownSeconds int
param maxSessions int
param appPrincipalId string
param userPrincipalId string
param userPrincipalType string

var sessionExecutorRoleId = '0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0'

resource pool 'Microsoft.App/sessionPools@2025-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    containerType: 'PythonLTS'
    poolManagementType: 'Dynamic'
    dynamicPoolConfiguration: {
      lifecycleConfiguration: {
        lifecycleType: 'Timed'
        cooldownPeriodInSeconds: cooldownSeconds
      }
    }
    scaleConfiguration: {
      maxConcurrentSessions: maxSessions
    }
    sessionNetworkConfiguration: {
      status: egressEnabled ? 'EgressEnabled' : 'EgressDisabled'
    }
  }
}

resource appRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(pool.id, appPrincipalId, sessionExecutorRoleId)
  scope: pool
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', sessionExecutorRoleId)
  }
}

resource userRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(pool.id, userPrincipalId, sessionExecutorRoleId)
  scope: pool
  properties: {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', sessionExecutorRoleId)
  }
}

output poolManagementEndpoint string = pool.properties.poolManagementEndpoint
