"""Settings read from the environment (prefix ``HOTLINE_``) with pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that must never reach production: rejected outside development.
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "development-only-secret-not-for-production"}
DEVELOPMENT_JWT_SECRET = "development-only-secret-not-for-production"
DEVELOPMENT_SERVICE_SECRET = "development-only-service-secret-not-for-production"
_PLACEHOLDER_SECRETS.add(DEVELOPMENT_SERVICE_SECRET)
SERVICE_DEFAULT_PORTS = {"ingest": 4101, "indicators": 4102, "scoring": 4103, "appeals": 4104}


class Settings(BaseSettings):
    """Everything a service needs from its environment."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str | None = None
    # Development: HS256 with a shared secret. Production: RS256/ES256 verified against a JWKS.
    jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # How long the JWKS is cached; a key removed from it stops verifying within this time.
    jwks_cache_seconds: float = 300.0
    # Service-to-service calls: tokens signed with their own secret and audience, which the gateway
    # does not accept, so a service token can never come in from outside.
    service_secret: SecretStr | None = None
    # During a rotation of the service secret: the old one, still accepted (never used to sign).
    service_secret_previous: SecretStr | None = None
    ingest_url: str = f"http://127.0.0.1:{SERVICE_DEFAULT_PORTS['ingest']}"
    indicators_url: str = f"http://127.0.0.1:{SERVICE_DEFAULT_PORTS['indicators']}"
    scoring_url: str = f"http://127.0.0.1:{SERVICE_DEFAULT_PORTS['scoring']}"
    appeals_url: str = f"http://127.0.0.1:{SERVICE_DEFAULT_PORTS['appeals']}"
    # How stale the unit-directory read model of a service may get (seconds; 0 = check every request).
    directory_ttl_seconds: float = 5.0
    # Connections a service process keeps open (and up to `db_max_overflow` more at a peak, closed when returned):
    # a request whose connection is opened on the spot pays a connect and a cold statement cache.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Garbage collection of a service process (``hotline.kit.app.settle_garbage_collector``): once started, what the
    # start-up made is moved out of the collector's sight (``gc.freeze``), and the youngest generation is collected
    # every `gc_young_threshold` allocations instead of Python's 700. Measured (docs/performance.md): full
    # collections of the ~250,000 start-up objects took 190-260 ms, every few seconds under load, stalling every
    # request in flight (the p99), and collections cost 15-20 % of a portal read's CPU. 0 leaves Python's defaults
    # (and nothing frozen); an `env` of "test" does too (pytest's process holds many apps, one after another).
    gc_young_threshold: int = 7000
    # Scoring: a run job still "running" this long after it started lost its worker (crash, killed pod,
    # database restart) and is taken again by the next worker.
    scoring_job_stale_seconds: float = 1800.0
    # How often scoring checks its alert rules over the whole tree (seconds; 0 = only on request).
    scoring_alert_sweep_seconds: float = 3600.0
    # A GraphQL request body above this is refused with 413 before it is parsed (uploads are REST, with
    # their own limits, or GraphQL multipart requests where a service takes them: see the next setting).
    graphql_max_body_bytes: int = 1024 * 1024
    # A GraphQL multipart request (a file upload, appeals' evidence) above this is refused with 413: a file of up
    # to 10 MiB and its operation and form framing (1 MiB).
    graphql_max_upload_bytes: int = 11 * 1024 * 1024
    # Appeals' worker: how often it delivers due webhooks, and how often it sweeps runs for finality (seconds).
    appeals_delivery_seconds: float = 2.0
    appeals_sweep_seconds: float = 60.0
    # Ingest: the largest file a batch upload (REST POST /batches) may send.
    ingest_max_upload_bytes: int = 2 * 1024 * 1024 * 1024
    db_echo: bool = False
    # Observability. Logs: JSON lines (default outside development) or a readable console renderer.
    log_format: Literal["json", "console"] | None = None
    log_level: str = "INFO"
    # Traces are off unless an exporter is chosen; ``otlp`` sends OTLP/HTTP to ``otel_endpoint``
    # (e.g. http://otel-collector:4318/v1/traces; unset = the OTEL_EXPORTER_OTLP_* variables or the SDK default).
    otel_exporter: Literal["none", "otlp", "console"] = "none"
    otel_endpoint: str | None = None

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.env == "production":
            if self.jwks_url is None and (
                self.jwt_secret is None or self.jwt_secret.get_secret_value() in _PLACEHOLDER_SECRETS
            ):
                raise ValueError(
                    "HOTLINE_JWKS_URL (or a real HOTLINE_JWT_SECRET) is required in production; "
                    "placeholder secrets are refused"
                )
            if self.service_secret is None or self.service_secret.get_secret_value() in _PLACEHOLDER_SECRETS:
                raise ValueError("a real HOTLINE_SERVICE_SECRET is required in production; placeholders are refused")
            previous = self.service_secret_previous
            if previous is not None and previous.get_secret_value() in _PLACEHOLDER_SECRETS - {""}:
                raise ValueError("HOTLINE_SERVICE_SECRET_PREVIOUS is a placeholder; placeholders are refused")
        else:
            if self.jwt_secret is None and self.jwks_url is None:
                self.jwt_secret = SecretStr(DEVELOPMENT_JWT_SECRET)
            if self.service_secret is None:
                self.service_secret = SecretStr(DEVELOPMENT_SERVICE_SECRET)
        return self

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        """``HOTLINE_LOG_FORMAT`` when set, else console in development and JSON everywhere else."""
        return self.log_format or ("console" if self.env == "development" else "json")

    def service_url(self, name: str) -> str:
        """Base URL of another service (``HOTLINE_<NAME>_URL``)."""
        return getattr(self, f"{name}_url")

    @property
    def async_database_url(self) -> str:
        """The database URL in the form SQLAlchemy's asyncpg dialect expects."""
        if not self.database_url:
            raise RuntimeError("HOTLINE_DATABASE_URL is not set")
        return to_async_url(self.database_url)


def to_async_url(url: str) -> str:
    """Turn ``postgresql://…`` (or ``postgres://``) into ``postgresql+asyncpg://…``."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
