"""The service's settings, read once from the environment (and `.env`) at start-up."""

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from security.settings import SecuritySettings


class Settings(SecuritySettings):
    """Every field is an environment variable of the same name, upper-cased.

    The same names appear in `.env.sample`, in the container app's environment and in the
    Bicep outputs that `azd` writes, so one value has one name everywhere. Authentication and
    limits (AUTH_MODE, API_KEYS, MAX_MESSAGE_CHARS, ...) come from `SecuritySettings`.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Azure OpenAI: Entra ID by default, an API key when given.
    azure_openai_endpoint: str | None = None
    azure_openai_deployment: str = "gpt-4o-mini"
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_api_key: SecretStr | None = None

    # Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp).
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"

    # Dynamic sessions: Azure's pool, or a running local pool; unset starts the local pool.
    pool_management_endpoint: str | None = None
    session_pool_api_key: SecretStr | None = None
    azure_client_id: str | None = None

    # Conversations: SQLite under data_dir unless database_url names another database.
    data_dir: Path = Path("data")
    database_url: str | None = None
    # Sign in to PostgreSQL with an Entra ID token (Azure Database for PostgreSQL, keyless).
    database_entra_auth: bool = False

    # How many earlier messages of the conversation the model sees.
    history_messages: int = 20

    # Calls to the model: per-request timeout and the client's bounded retries with backoff.
    llm_timeout_seconds: float = 60.0
    llm_max_retries: int = 2

    # Calls to the session pool: how long one code execution may take end to end.
    code_timeout_seconds: float = 240.0

    applicationinsights_connection_string: SecretStr | None = None

    # LangSmith tracing, under LangSmith's own names (exported for the SDK when set in .env).
    langsmith_tracing: bool = False
    langsmith_api_key: SecretStr | None = None
    langsmith_project: str | None = None
