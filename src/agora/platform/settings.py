"""Typed settings: environment variables (``AGORA_*``) and secret files, validated at start.

Two layers:

* :class:`PlatformSettings` (prefix ``AGORA_``) holds what every process shares: the
  environment, the data directory, the broker, the observability endpoints, the auth keys.
* each service subclasses :class:`ServiceSettings` with its own prefix (``AGORA_CATALOG_``),
  which holds its database URL and its own knobs.

Nothing is built at import: :func:`load_settings` constructs on demand and callers pass the
result down (composition roots own it). Secret files come from ``AGORA_SECRETS_DIR`` (one file
per field, named as the environment variable would be, e.g. ``AGORA_SECRET_KEY``), the layout
Kubernetes and Docker secrets mount.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Values shipped for development only; seeing one outside development is a configuration error.
DEVELOPMENT_SECRET = "agora-development-secret-do-not-use-in-production"  # noqa: S105 - refused outside development


class Environment(StrEnum):
    development = "development"
    test = "test"
    staging = "staging"
    production = "production"


class Mode(StrEnum):
    embedded = "embedded"
    distributed = "distributed"


class _Base(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGORA_",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )


class PlatformSettings(_Base):
    """What every Agora process shares."""

    environment: Environment = Environment.development
    mode: Mode = Mode.embedded
    data_dir: Path = Path("var")
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    """Signs cursors and other server-side tokens that are not JWTs."""
    service_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    """What a service shows identity to get a service token (``AGORA_SERVICE_SECRET``); shared by services only."""
    service_token_ttl_seconds: int = Field(default=300, ge=60, le=900)

    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True

    # messaging: "memory://" (in-process), "kafka://host:port", "nats://host:port", "redis://host:port/0"
    broker_url: str = "memory://"
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    relay_poll_interval: float = Field(default=1.0, gt=0, le=60)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)

    redis_url: str | None = None

    # database connections (see agora.platform.db.pools)
    database_connection_budget: int = Field(default=80, ge=1, le=100_000)
    """Connections every Agora pool together may hold on one database server (a default
    PostgreSQL admits 100); each service's pool gets a share."""
    database_pool_shares: int | None = Field(default=None, ge=1, le=10_000)
    """How many pools divide the budget; unset: one per service of this build (a cluster running
    replicas sets replicas x services, or sizes pools per service)."""
    database_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds a request waits for a pooled connection before it is answered 503."""
    database_pool_queue: int = Field(default=256, ge=0, le=100_000)
    """Requests that may wait for a pooled connection at once, per pool; more are answered 503."""

    # observability
    otlp_endpoint: str | None = None
    """OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces; no exporter when unset."""
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of new traces kept (``AGORA_TRACE_SAMPLE_RATIO``); parent-based: a request carrying a
    ``traceparent`` follows its caller's decision, so a trace is whole or absent."""
    service_namespace: str = "agora"
    fault_flags_enabled: bool = False
    """Whether the fault flags (agora.platform.faults) exist outside development and test
    (``AGORA_FAULT_FLAGS_ENABLED``): a staging stack that rehearses incidents sets it."""

    # auth: where the public keys that verify access tokens come from
    jwks_url: str | None = None
    jwks_file: Path | None = None
    jwt_issuer: str = "agora-identity"
    jwt_audience: str = "agora"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    revocation_sync_seconds: float = Field(default=5.0, gt=0, le=300)
    """How often every process asks identity for the ended sessions and disabled users in force:
    the bound on how long a missed revocation event can go unnoticed."""

    # HTTP
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    service_urls: dict[str, str] = Field(default_factory=dict)
    """``AGORA_SERVICE_URLS__CATALOG=http://127.0.0.1:8101``; unset means in-process (embedded)."""
    http_timeout: float = Field(default=5.0, gt=0, le=120)
    direct_calls: bool = True
    """Embedded mode: a call to another service goes straight to its application layer (its port's
    direct adapter) instead of through its HTTP chassis; ``AGORA_DIRECT_CALLS=false`` sends every
    call over the in-process ASGI transport (for comparing the two; distributed mode is always HTTP)."""
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    trusted_proxies: str = "127.0.0.1"
    """Addresses whose X-Forwarded-For a service process believes (the front proxy, the ingress)."""

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> PlatformSettings:
        if self.environment in (Environment.development, Environment.test):
            return self
        for name, value in self._secret_fields():
            if value == DEVELOPMENT_SECRET or len(value) < 32:
                raise ValueError(
                    f"{name} must be set to a strong secret (32+ characters) when "
                    f"AGORA_ENVIRONMENT={self.environment.value}{_secret_file_state(name)}"
                )
        return self

    def _secret_fields(self) -> list[tuple[str, str]]:
        return [
            (f"{self.model_config.get('env_prefix', '')}{name}".upper(), value.get_secret_value())
            for name, value in self
            if isinstance(value, SecretStr)
        ]

    @property
    def is_development(self) -> bool:
        return self.environment in (Environment.development, Environment.test)


class ServiceSettings(_Base):
    """Base for one service's settings. Subclasses set ``service_name``; their environment prefix
    follows from it (``AGORA_<NAME>_``) unless they set ``model_config`` themselves."""

    service_name: ClassVar[str] = "service"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "model_config" not in cls.__dict__ or cls.model_config.get("env_prefix") == "AGORA_":
            # pydantic-settings reads the prefix from model_config when an instance is built
            cls.model_config = {**cls.model_config, "env_prefix": f"AGORA_{cls.service_name.upper()}_"}

    database_url: str | None = None
    """SQLAlchemy async URL; defaults to ``sqlite+aiosqlite:///<data_dir>/<service>.db``."""
    database_password: SecretStr | None = None
    """The password for a ``database_url`` written without one (a secret file, never in the URL)."""
    database_pool_size: int | None = Field(default=None, ge=1, le=200)
    """This service's pool; unset: its share of ``AGORA_DATABASE_CONNECTION_BUDGET``."""
    database_echo: bool = False
    database_pre_ping: bool = False
    """Test each pooled connection before use (one round trip); off: a restart costs one failed call."""
    port: int = Field(default=8100, ge=1, le=65535)
    max_body_bytes: int | None = Field(default=None, ge=1024)
    """This service's request body limit; unset means the platform's (media takes whole images)."""
    read_cache_ttl: float = Field(default=5.0, ge=0, le=3600)
    """Seconds a hot read (e.g. a product by id) is served from memory; 0 turns the cache off."""
    read_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)

    def resolved_database_url(self, platform: PlatformSettings) -> str:
        if not self.database_url:
            path = (platform.data_dir / f"{self.service_name}.db").resolve()
            return f"sqlite+aiosqlite:///{path}"
        from sqlalchemy.engine import make_url  # here: reading settings should not load SQLAlchemy

        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" or url.password is not None:
            return self.database_url
        password = self.database_password.get_secret_value() if self.database_password else ""
        if password:
            return url.set(password=password).render_as_string(hide_password=False)
        if not platform.is_development:
            # a server database with no password outside development: stop here, naming the
            # secret file, rather than start and fail on the first query
            name = f"{self.model_config.get('env_prefix', '')}DATABASE_PASSWORD".upper()
            raise SecretFileError(f"{name}: the database at {url.host} needs a password{_secret_file_state(name)}")
        return self.database_url


class SecretFileError(ValueError):
    """A secret file that is missing, empty, unreadable or not a file; the message names it."""


def _secrets_dir() -> Path | None:
    value = os.environ.get("AGORA_SECRETS_DIR")
    return Path(value) if value else None


def _secret_file_state(name: str) -> str:
    """Where a secret named ``name`` comes from and what is wrong with it, for error messages."""
    folder = _secrets_dir()
    if folder is None:
        return f" (set it, or put it in a file named {name} in AGORA_SECRETS_DIR)"
    path = folder / name
    if not path.exists():
        return f": the secret file {path} is missing"
    return f": check the secret file {path}"


def _check_secret_files(cls: type[BaseSettings], folder: Path) -> None:
    """Every secret file this class would read must be a readable file with content: one that
    is empty, a directory or unreadable stops the process naming it (pydantic-settings would
    skip it with a warning, or read an empty secret)."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names = {f"{prefix}{field}".upper() for field in cls.model_fields}
    for path in folder.iterdir():
        if path.name.upper() not in names:
            continue
        if not path.is_file():
            raise SecretFileError(f"the secret file {path} is not a file")
        try:
            content = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretFileError(f"the secret file {path} cannot be read ({exc.__class__.__name__})") from None
        if not content.strip():
            raise SecretFileError(f"the secret file {path} is empty")


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment and secret files; ``overrides`` win (tests, CLI flags).

    ``AGORA_SECRETS_DIR`` set to anything but a directory is an error, not an empty set of
    secrets: a mount that went wrong must not start a half-configured process."""
    folder = _secrets_dir()
    if folder is None:
        return cls(**overrides)
    if not folder.is_dir():
        raise SecretFileError(f"AGORA_SECRETS_DIR={folder} is not a directory")
    _check_secret_files(cls, folder)
    return cls(_secrets_dir=folder, **overrides)
