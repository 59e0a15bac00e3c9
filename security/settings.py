"""The security part of the service's settings: fields are the environment variable names."""

from typing import Annotated, Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AuthMode = Literal["auto", "off", "api_key", "entra", "both"]


class SecuritySettings(BaseSettings):
    """Mixed into `settings.Settings`; usable alone where only security is needed."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # auto: keys and/or Entra when configured, else anonymous for direct loopback clients only.
    auth_mode: AuthMode = "auto"
    # "name:sha256hex,name:sha256hex"; make a key with `python -m security.keys NAME`.
    api_keys: Annotated[dict[str, str], NoDecode] = {}
    entra_tenant_id: str | None = None
    # The API's application (client) ID or its Application ID URI, e.g. api://<client-id>.
    entra_audience: str | None = None
    # Unset: the tenant's keys at login.microsoftonline.com; set for tests or sovereign clouds.
    entra_jwks_url: str | None = None

    rate_limit_per_minute: int = 120
    max_concurrent_runs_per_user: int = 4
    max_request_bytes: int = 1_000_000
    max_message_chars: int = 8000
    max_upload_bytes: int = 16 * 1024 * 1024
    max_tool_calls_per_turn: int = 8
    turn_timeout_seconds: float = 120.0
    # Comma-separated origins allowed to call the API from other pages; empty: same origin only.
    cors_allow_origins: Annotated[list[str], NoDecode] = []

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

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
