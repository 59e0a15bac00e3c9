"""Entra ID token providers for the Azure services the app calls, keyless by design."""

from collections.abc import Callable

from azure.identity import DefaultAzureCredential, get_bearer_token_provider

AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
DYNAMIC_SESSIONS_SCOPE = "https://dynamicsessions.io/.default"
POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


def entra_token_provider(scope: str, managed_identity_client_id: str | None) -> Callable[[], str]:
    """A callable giving a token for `scope`, cached and refreshed before it expires.

    In Azure the user-assigned managed identity (AZURE_CLIENT_ID) signs in; elsewhere the
    developer's own login (Azure CLI, azd, environment) does.
    """
    credential = DefaultAzureCredential(managed_identity_client_id=managed_identity_client_id)
    return get_bearer_token_provider(credential, scope)
