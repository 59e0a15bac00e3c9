// Everything `azd up` creates for the code-interpreter agent: one resource group, keyless throughout.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to name the resource group and derive resource names.')
param environmentName string

@minLength(1)
@description('Primary location for all resources.')
param location string

@description('Object id of the deploying user or principal; gets the same data-plane roles as the app, so a local run can use the Azure model and session pool. Empty: no roles.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
@description('Kind of principal that principalId names (ServicePrincipal when deploying from CI).')
param principalType string = 'User'

@description('True once the container app exists, so re-provisioning keeps the deployed image (set by azd).')
param apiExists bool = false

@description('Location of the Azure OpenAI account; the model must be offered there.')
param openAiLocation string = location

@description('Chat model to deploy; the deployment is named after it.')
param openAiModelName string = 'gpt-4o-mini'

@description('Version of the chat model.')
param openAiModelVersion string = '2024-07-18'

@allowed(['GlobalStandard', 'Standard', 'DataZoneStandard'])
@description('Deployment type of the model (pay per token).')
param openAiDeploymentSkuName string = 'GlobalStandard'

@minValue(1)
@description('Rate limit of the deployment, in thousands of tokens per minute.')
param openAiDeploymentCapacity int = 30

@description('Data-plane API version the service uses.')
param openAiApiVersion string = '2024-10-21'

@description('Let code running in the session pool reach the internet (pip install, downloads). Off by default.')
param sessionPoolEgressEnabled bool = false

@minValue(300)
@maxValue(3600)
@description('Seconds a code session may stay idle before Azure deletes it.')
param sessionPoolCooldownSeconds int = 300

@minValue(1)
@description('Most code sessions the pool runs at once.')
param sessionPoolMaxSessions int = 20

@minValue(0)
@description('Fewest replicas of the API; 0 lets it scale to zero (first request then waits for a start).')
param containerMinReplicas int = 1

@minValue(1)
@description('Most replicas of the API (forced to 1 without Postgres, where history lives on one replica).')
param containerMaxReplicas int = 3

// Off by default: one replica with SQLite costs nothing extra, and the Postgres mode's Entra token
// sign-in (DATABASE_ENTRA_AUTH) is first exercised by a real deployment. See README, "Deploy to Azure".
@description('Keep conversations in Azure Database for PostgreSQL (Entra ID auth) so they survive revisions and are shared by replicas. False: SQLite on the single replica, lost when the replica is replaced.')
param usePostgres bool = false

@description('API_KEYS of the service: name:sha256hex pairs, comma-separated (hashes only; make one with `python -m security.keys NAME`). Empty and no Entra audience: the service answers 401 to everyone.')
param apiKeys string = ''

@description('ENTRA_AUDIENCE of the service (its app registration client ID or api:// URI) to accept Entra ID tokens of this tenant. Empty: Entra sign-in off.')
param entraAudience string = ''

@description('ENTRA_REQUIRED_SCOPES: delegated permissions of the API, comma-separated; a user\'s token must hold one. With an Entra audience, this or entraRequiredRoles is required.')
param entraRequiredScopes string = ''

@description('ENTRA_REQUIRED_ROLES: app roles of the API, comma-separated; a token holding one (an application\'s, or a user\'s assigned the role) is accepted.')
param entraRequiredRoles string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var deploymentName = openAiModelName

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    name: 'cr${resourceToken}'
    location: location
    tags: tags
    pullPrincipalId: identity.outputs.principalId
  }
}

module openAi 'modules/openai.bicep' = {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-${resourceToken}'
    location: openAiLocation
    tags: tags
    deploymentName: deploymentName
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    deploymentSkuName: openAiDeploymentSkuName
    deploymentCapacity: openAiDeploymentCapacity
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module sessionPool 'modules/session-pool.bicep' = {
  name: 'session-pool'
  scope: rg
  params: {
    name: 'sp-${resourceToken}'
    location: location
    tags: tags
    egressEnabled: sessionPoolEgressEnabled
    cooldownSeconds: sessionPoolCooldownSeconds
    maxSessions: sessionPoolMaxSessions
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    containerName: 'conversation-files'
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module postgres 'modules/postgres.bicep' = if (usePostgres) {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    adminPrincipalId: identity.outputs.principalId
    adminPrincipalName: identity.outputs.name
  }
}

module app 'modules/container-app.bicep' = {
  name: 'container-app'
  scope: rg
  params: {
    environmentName: 'cae-${resourceToken}'
    appName: 'ca-api-${resourceToken}'
    location: location
    tags: tags
    exists: apiExists
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryLoginServer: registry.outputs.loginServer
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    minReplicas: containerMinReplicas
    maxReplicas: usePostgres ? containerMaxReplicas : 1
    openAiEndpoint: openAi.outputs.endpoint
    openAiDeploymentName: openAi.outputs.deploymentName
    openAiApiVersion: openAiApiVersion
    poolManagementEndpoint: sessionPool.outputs.poolManagementEndpoint
    sessionPoolCooldownSeconds: sessionPoolCooldownSeconds
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageContainer: storage.outputs.containerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    databaseUrl: usePostgres ? postgres.outputs.databaseUrl : ''
    apiKeys: apiKeys
    entraTenantId: empty(entraAudience) ? '' : tenant().tenantId
    entraAudience: entraAudience
    entraRequiredScopes: entraRequiredScopes
    entraRequiredRoles: entraRequiredRoles
  }
}

// azd writes every output below into the environment (`azd env get-values`). The service's
// settings keep their Settings field names; the rest are azd's own conventions.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_ENVIRONMENT_NAME string = app.outputs.environmentName
output SERVICE_API_NAME string = app.outputs.name
output SERVICE_API_URI string = app.outputs.uri

output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_DEPLOYMENT string = openAi.outputs.deploymentName
output AZURE_OPENAI_API_VERSION string = openAiApiVersion
output POOL_MANAGEMENT_ENDPOINT string = sessionPool.outputs.poolManagementEndpoint
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_STORAGE_CONTAINER string = storage.outputs.containerName
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
