"""The service's settings, read once from the environment (and `.env`) at start-up."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AuthMode = Literal["auto", "off", "api_key", "entra", "both"]


class Settings(BaseSettings):
    """Every field is an environment variable of the same name, upper-cased.

    The same names appear in `.env.sample`, in the container app's environment and in the
    Bicep outputs that `azd` writes, so one value has one name everywhere.
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

    # Conversations' files (uploads, and what code writes in /mnt/data) are kept by the service
    # and restored into new code sessions: in DATA_DIR/files, or in Blob Storage when an
    # endpoint (managed identity) or a connection string (Azurite, account key) is given.
    conversation_files_max_bytes: int = 100_000_000
    azure_storage_blob_endpoint: str | None = None
    azure_storage_container: str = "conversation-files"
    azure_storage_connection_string: SecretStr | None = None

    # What the model is shown of earlier turns: the latest whole turns (their tool calls and
    # results included) that fit in this many tokens (LangChain's approximate count).
    history_max_tokens: int = 16000
    # Longer tool output (result, stdout and stderr together) reaches the model shortened,
    # with a note; the user still sees all of it.
    tool_result_max_chars: int = 8000

    # Calls to the model: per-request timeout and the client's bounded retries with backoff.
    llm_timeout_seconds: float = 60.0
    llm_max_retries: int = 2

    # Calls to the session pool: how long one code execution may take end to end.
    code_timeout_seconds: float = 240.0
    # The pool's idle timeout (the local pool's setting of this name; Azure's cooldown period):
    # a session idle longer has lost its variables, and the model is told so.
    session_pool_cooldown_seconds: float = 300.0

    # Who may call: auto means keys and/or Entra when configured, else anonymous for direct
    # loopback clients only.
    auth_mode: AuthMode = "auto"
    # "name:sha256hex,name:sha256hex"; make a key with `python -m security.keys NAME`.
    api_keys: Annotated[dict[str, str], NoDecode] = {}
    entra_tenant_id: str | None = None
    # The API's application (client) ID or its Application ID URI, e.g. api://<client-id>.
    entra_audience: str | None = None
    # Unset: the tenant's keys at login.microsoftonline.com; set for tests or sovereign clouds.
    entra_jwks_url: str | None = None
    # A token must hold one of these delegated permissions (its `scp`) or one of these app
    # roles (its `roles`), comma-separated; with Entra ID on, at least one list is required.
    entra_required_scopes: Annotated[list[str], NoDecode] = []
    entra_required_roles: Annotated[list[str], NoDecode] = []
    # Accept guest accounts of the tenant (users of other tenants, personal accounts).
    entra_allow_guests: bool = False
    # Signs the browser's sign-in cookie; unset: a key kept beside the conversations' files
    # (DATA_DIR/files or the Blob container), shared by the workers and replicas that share them.
    session_secret: SecretStr | None = None
    # How long a browser sign-in lasts; never longer than the Entra ID token it came from.
    session_max_age_seconds: Annotated[int, Field(gt=0)] = 8 * 3600

    # Worker processes of `make run` (python -m serve); unset: one per CPU, at most 4. They
    # share one local session pool, started once, and one store.
    workers: Annotated[int, Field(gt=0)] | None = None

    # Per-user limits and the bounds of one turn.
    rate_limit_per_minute: int = 120
    max_concurrent_runs_per_user: int = 4
    max_request_bytes: int = 1_000_000
    max_message_chars: int = 8000
    max_upload_bytes: int = 16 * 1024 * 1024
    max_tool_calls_per_turn: int = 8
    turn_timeout_seconds: float = 120.0
    # Comma-separated origins allowed to call the API from other pages; empty: same origin only.
    cors_allow_origins: Annotated[list[str], NoDecode] = []

    # The service's URL as clients see it (https://host[/prefix]), for the absolute links in
    # answers (a plot's image); unset: the URL each request arrived at.
    public_base_url: str | None = None
    # Signs those links so a browser opens them without credentials; unset: a key kept beside
    # the conversations' files (DATA_DIR/files or the Blob container), as for sign-ins.
    link_signing_key: SecretStr | None = None

    # Azure Monitor: requests, outgoing calls and LangChain runs (see telemetry.py).
    applicationinsights_connection_string: SecretStr | None = None
    # Record prompts, answers, code and tool output in the telemetry too.
    telemetry_capture_content: bool = False

    # LangSmith tracing, under LangSmith's own names (exported for the SDK when set in .env).
    langsmith_tracing: bool = False
    langsmith_api_key: SecretStr | None = None
    langsmith_project: str | None = None

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        entries = [part.strip() for part in value.split(",") if part.strip()]
        parsed: dict[str, str] = {}
        for entry in entries:
            name, sep, digest = entry.partition(":")
            if not sep or not name.strip() or len(digest.strip()) != 64:
                raise ValueError("API_KEYS entries are name:sha256hex (64 hex digits)")
            parsed[name.strip()] = digest.strip().lower()
        return parsed

    @field_validator("api_keys")
    @classmethod
    def _check_digests(cls, value: dict[str, str]) -> dict[str, str]:
        for digest in value.values():
            int(digest, 16)  # ValueError names the field when a digest is not hex
        return {name: digest.lower() for name, digest in value.items()}

    @field_validator(
        "cors_allow_origins", "entra_required_scopes", "entra_required_roles", mode="before"
    )
    @classmethod
    def _parse_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
