"""The one settings object, read from the environment and `.env` (see `.env.example` and docs/configuration.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_REQUIRED_FIELDS = [
    "industry",
    "background.summary",
    "background.strategy",
    "finance.revenue",
    "finance.budget",
    "organisation.structure",
    "organisation.power",
    "competitors.items",
    "suppliers.strategy",
    "suppliers.items",
    "downstream.items",
    "contacts.decision_maker",
]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of kam-bot. Field names are the environment variable names (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # --- where data lives ---
    kam_home: Path = Path(".kam")
    database_url: str | None = None  # default: sqlite in KAM_HOME
    chroma_host: str | None = None  # set to use a Chroma server (`chroma run`) instead of the embedded index
    chroma_port: int = 8000
    chroma_ssl: bool = False

    # --- embeddings: "use-multilingual" (offline default), "sentence-transformers:NAME_OR_PATH",
    #     or "openai:MODEL" (uses OPENAI_BASE_URL / OPENAI_API_KEY) ---
    kam_embedding: str = "use-multilingual"
    kam_embed_batch: int = 64

    # --- LLM answer path (off unless a key or base URL is set) ---
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    kam_llm_model: str = "gpt-4o-mini"
    kam_llm_timeout: float = 20.0  # seconds before falling back to the offline answer

    # --- profile quality ---
    kam_required_fields: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_REQUIRED_FIELDS))
    kam_stale_days: int = 180  # a dimension older than this is "stale"
    kam_timezone: str = "UTC"  # default time zone for people without one

    # --- contact cadence: days without contact before an account is overdue, per tier (0 = never) ---
    kam_cadence_key: int = 30
    kam_cadence_strategic: int = 45
    kam_cadence_maintenance: int = 90
    kam_cadence_opportunity: int = 0

    # --- tiering: factors, weights, thresholds (None: tiering.yaml in the project root; see docs/tiering.md) ---
    kam_tiering_config: Path | None = None

    # --- Slack ---
    slack_bot_token: str | None = None
    slack_app_token: str | None = None  # set -> Socket Mode
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    kam_managers_channel: str | None = None  # channel id for tier-change posts

    _split = field_validator("kam_required_fields", mode="before")(_split_csv)

    @property
    def home(self) -> Path:
        return self.kam_home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'kam.db'}"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    def cadence_days(self, tier: str | None) -> int:
        """Contact cadence for a tier; 0 means no cadence (and unknown tiers have none)."""
        return int(getattr(self, f"kam_cadence_{tier}", 0) or 0) if tier else 0

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
