"""The local session pool's settings: every field is a SESSION_POOL_* environment variable."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Isolation = Literal["auto", "namespaces", "landlock", "none"]


class PoolSettings(BaseSettings):
    """Read once at start-up; `SESSION_POOL_API_KEY` is required."""

    model_config = SettingsConfigDict(env_prefix="SESSION_POOL_", env_file=".env", extra="ignore")

    api_key: SecretStr = Field(min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(6000, ge=0, le=65535)
    isolation: Isolation = "auto"
    allow_no_seccomp: bool = False
    max_sessions: int = Field(100, ge=1)
    ready_sessions: int = Field(2, ge=0)
    cooldown_seconds: float = Field(300.0, gt=0)
    timeout_seconds: float = Field(220.0, gt=0)
    interrupt_grace_seconds: float = Field(2.0, gt=0)
    shutdown_grace_seconds: int = Field(3, ge=1)
    output_max_length: int = Field(4096, ge=0)
    max_code_bytes: int = Field(1_048_576, ge=1)
    max_upload_mb: int = Field(128, ge=1)
    memory_mb: int = Field(1024, ge=64)
    total_memory_mb: int = Field(0, ge=0)
    disk_mb: int = Field(1024, ge=1)
    tmp_mb: int = Field(128, ge=1)
    max_processes: int = Field(64, ge=4)
    max_open_files: int = Field(256, ge=32)
    cpu_seconds: int = Field(3600, ge=1)
    sandbox_uid_base: int = Field(2_000_000_000, ge=1000, le=4_000_000_000)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
