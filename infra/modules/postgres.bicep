// Conversation history in PostgreSQL with Entra ID auth only: the app's identity is the admin, no password exists.
param name string
param location string
param tags object
param adminPrincipalId string
param adminPrincipalName string
param databaseName string = 'conversations'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: '16'
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// The app's outbound addresses are not fixed without a VNet, so Azure-internal traffic is let in;
// Entra-only auth is what keeps everyone else out.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  // The server takes one change at a time; parallel child updates fail with ServerIsBusy.
  dependsOn: [
    allowAzure
  ]
}

resource admin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: adminPrincipalId
  properties: {
    principalName: adminPrincipalName
    principalType: 'ServicePrincipal'
    tenantId: tenant().tenantId
  }
  dependsOn: [
    database
  ]
}

// No password in the URL: the service signs in with an Entra token for the identity named as user.
output databaseUrl string = 'postgresql+psycopg://${adminPrincipalName}@${server.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require'
