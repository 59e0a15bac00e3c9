// The Container Apps environment and the API's container app: identity, ingress, probes and settings.
param environmentName string
param appName string
param location string
param tags object
param exists bool
param identityId string
param identityClientId string
param registryLoginServer string
param logAnalyticsWorkspaceId string
param minReplicas int
param maxReplicas int
param openAiEndpoint string
param openAiDeploymentName string
param openAiApiVersion string
param poolManagementEndpoint string
@description('The session pool\'s cooldown: the service tells the model when a session idle this long lost its variables.')
param sessionPoolCooldownSeconds int
@description('Blob Storage endpoint and container for conversation files (the identity signs in).')
param storageBlobEndpoint string
param storageContainer string
param applicationInsightsConnectionString string
@description('Empty: SQLite under DATA_DIR on the replica.')
param databaseUrl string
@description('Hashed API keys (name:sha256hex,...); empty: none.')
param apiKeys string
param entraTenantId string
param entraAudience string
param entraRequiredScopes string
param entraRequiredRoles string

var port = 8000
// Until azd deploys the real image the app runs a public placeholder; later provisions keep whatever azd deployed.
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

// Logs go to Log Analytics through diagnostic settings, so the environment holds no workspace key.
resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: environment
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource existingApp 'Microsoft.App/containerApps@2024-03-01' existing = if (exists) {
  name: appName
}

var image = exists ? existingApp.properties.template.containers[0].image : placeholderImage

var settingsEnv = [
  {
    name: 'AZURE_OPENAI_ENDPOINT'
    value: openAiEndpoint
  }
  {
    name: 'AZURE_OPENAI_DEPLOYMENT'
    value: openAiDeploymentName
  }
  {
    name: 'AZURE_OPENAI_API_VERSION'
    value: openAiApiVersion
  }
  {
    name: 'POOL_MANAGEMENT_ENDPOINT'
    value: poolManagementEndpoint
  }
  {
    name: 'SESSION_POOL_COOLDOWN_SECONDS'
    value: string(sessionPoolCooldownSeconds)
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'AZURE_STORAGE_BLOB_ENDPOINT'
    value: storageBlobEndpoint
  }
  {
    name: 'AZURE_STORAGE_CONTAINER'
    value: storageContainer
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    name: 'DATA_DIR'
    value: '/app/data'
  }
  // The app's own HTTPS address (external ingress: <app>.<environment's domain>): the ingress
  // ends TLS, so the requests the app sees are http. Links in answers and MCP's sign-in
  // metadata must name the address clients dial.
  {
    name: 'PUBLIC_BASE_URL'
    value: 'https://${appName}.${environment.properties.defaultDomain}'
  }
]
var databaseEnv = empty(databaseUrl) ? [] : [
  {
    name: 'DATABASE_URL'
    value: databaseUrl
  }
  {
    // The URL has no password: each connection signs in with the identity's Entra token.
    name: 'DATABASE_ENTRA_AUTH'
    value: 'true'
  }
]

// Who may call the API; the service refuses every non-local caller until one of these is set.
var apiKeysEnv = empty(apiKeys) ? [] : [
  {
    name: 'API_KEYS'
    value: apiKeys
  }
]
var entraEnv = empty(entraAudience) ? [] : [
  {
    name: 'ENTRA_TENANT_ID'
    value: entraTenantId
  }
  {
    name: 'ENTRA_AUDIENCE'
    value: entraAudience
  }
  {
    name: 'ENTRA_REQUIRED_SCOPES'
    value: entraRequiredScopes
  }
  {
    name: 'ENTRA_REQUIRED_ROLES'
    value: entraRequiredRoles
  }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: port
        transport: 'auto'
        allowInsecure: false
        // A browser's sign-in is signed by its replica's own random key (no SESSION_SECRET is
        // set here), so each browser keeps to one replica.
        stickySessions: {
          affinity: 'sticky'
        }
      }
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'api'
          image: image
          env: concat(settingsEnv, databaseEnv, apiKeysEnv, entraEnv)
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: port
              }
              initialDelaySeconds: 10
              periodSeconds: 15
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: port
              }
              initialDelaySeconds: 5
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
          volumeMounts: [
            {
              volumeName: 'data'
              mountPath: '/app/data'
            }
          ]
        }
      ]
      // Lives as long as the replica: SQLite's home when there is no Postgres, scratch space otherwise.
      volumes: [
        {
          name: 'data'
          storageType: 'EmptyDir'
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
      }
    }
  }
}

output environmentName string = environment.name
output name string = app.name
output uri string = 'https://${app.properties.configuration.ingress.fqdn}'
