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


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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

    # --- scheduler: nudges, digests, tier review (times are each recipient's local time) ---
    kam_remind_renewal: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [90, 30, 7])
    kam_remind_review: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [14, 1])
    kam_remind_visit: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7, 1])
    kam_remind_anniversary: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7])
    kam_remind_other: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7])
    kam_birthday_days: int = 3  # days before a buyer's birthday (roles: KAM_BIRTHDAY_ROLES)
    # contact roles whose birthdays are nudged (the method names the economic buyer, 采购决策人, explicitly)
    kam_birthday_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["decision_maker", "economic_buyer"])
    kam_coverage_min_contacts: int = 2  # key/strategic accounts with fewer contacts are single-threaded
    kam_sweep_hour: int = Field(default=8, ge=0, le=23)  # local hour of each rep's daily nudge batch
    kam_weekly_day: str = "mon"  # local day of the weekly coverage and freshness checks
    kam_digest_day: str = "mon"  # local day of the managers' digest
    kam_digest_hour: int = Field(default=8, ge=0, le=23)
    kam_tier_review_day: str = "sun"  # day of the periodic tier review ("" = off), in KAM_TIMEZONE
    kam_tier_review_hour: int = Field(default=5, ge=0, le=23)
    kam_catchup_days: int = 30  # after downtime, catch up on at most this many missed days
    kam_misfire_grace: int = 6 * 3600  # seconds a missed job may still run late (APScheduler misfire_grace_time)
    kam_run_scheduler: bool = True  # `kam run` also runs the scheduler (false: run `kam scheduler` apart)

    # --- competitor watch (docs/competitor-watch.md): alert thresholds; shares in percentage points ---
    kam_rival_share_rise: float = Field(default=5.0, gt=0)  # a rival's share up this much since the last alert/window
    kam_our_share_drop: float = Field(default=5.0, gt=0)  # our purchase share down this much
    kam_satisfaction_drop: float = Field(default=0.5, gt=0)  # the account's satisfaction with us (1-5) down this much
    kam_rival_window_days: int = Field(default=90, ge=1)  # "since the last alert or this many days"
    kam_rival_tiers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["key", "strategic"])
    # --- KPIs (docs/kpis.md): the default period of `kam kpis`, the digest, the Home tab and weekly snapshots ---
    kam_kpi_period_days: int = Field(default=90, ge=1, le=3660)

    # --- tiering: factors, weights, thresholds (None: tiering.yaml in the project root; see docs/tiering.md) ---
    kam_tiering_config: Path | None = None
    # --- lifetime value: discount rate, relationship length, ... (None: skills/clv.yaml; see docs/clv.md) ---
    kam_clv_config: Path | None = None

    # --- service cases: response / resolution targets per tier and severity (None: skills/cases.yaml; docs/cases.md)
    kam_cases_config: Path | None = None

    # --- Slack ---
    slack_bot_token: str | None = None
    slack_app_token: str | None = None  # set -> Socket Mode
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    kam_managers_channel: str | None = None  # channel id for tier-change posts
    kam_http_host: str = "127.0.0.1"  # `kam run --http` bind address
    kam_http_port: int = 3000
    kam_http_threads: int = 16  # HTTP server threads (they only verify, dedupe and ack)
    kam_http_front: bool = True  # `kam run --http`: ack Slack from a separate small process (acks never wait)
    kam_bot_workers: int = 8  # threads that compute and post answers (listeners only ack and hand work over)
    kam_bot_retries: int = Field(default=3, ge=1, le=10)  # attempts at acked work before the asker is told it failed
    # seconds an acknowledged event is reserved for the process answering it (renewed while that process lives);
    # after a crash another process, or the restarted one, answers it once this has run out
    kam_slack_event_lease: float = Field(default=30.0, gt=0)
    kam_db_busy_seconds: float = Field(default=120.0, ge=0)  # a write retries this long on a busy (locked) database
    kam_gil_switch_ms: float = 1.0  # `kam run`: Python's thread switch interval, so acks are not stuck behind answers
    kam_slack_dedup_hours: float = 24.0  # remember delivered event ids this long (Slack retries for ~5 min)
    kam_slack_channel_interval: float = 1.0  # seconds between posts to one channel (Slack: ~1 msg/s)
    kam_slack_placeholder_after: float = 1.0  # post "looking it up" when an answer takes longer (seconds)
    kam_slack_retries: int = 3  # Web API retries on 429 (honouring Retry-After) and on connection errors
    kam_slack_verify_token: bool = True  # call auth.test at startup to check SLACK_BOT_TOKEN

    # --- simulation only: a file holding the current instant (ISO 8601) that the scheduler takes as its clock ---
    kam_clock_file: Path | None = None

    _split = field_validator("kam_required_fields", "kam_birthday_roles", "kam_rival_tiers",
                             mode="before")(_split_csv)
    _split_remind = field_validator("kam_remind_renewal", "kam_remind_review", "kam_remind_visit",
                                    "kam_remind_anniversary", "kam_remind_other", mode="before")(_split_csv)

    @field_validator("kam_birthday_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        from knowledge.profile import CONTACT_ROLES

        roles = [r.strip().lower() for r in value if r.strip()]
        unknown = [r for r in roles if r not in CONTACT_ROLES]
        if unknown:
            raise ValueError(f"unknown contact role {unknown[0]!r} (one of {', '.join(CONTACT_ROLES)})")
        return roles

    @field_validator("kam_weekly_day", "kam_digest_day", "kam_tier_review_day")
    @classmethod
    def _day_name(cls, value: str) -> str:
        value = value.strip().lower()[:3]
        if value and value not in DAY_NAMES:
            raise ValueError(f"must be a day name ({', '.join(DAY_NAMES)})")
        return value

    def remind_days(self, kind: str) -> list[int]:
        """Default reminder offsets (days before) for a key-date kind."""
        return sorted({int(d) for d in getattr(self, f"kam_remind_{kind}", self.kam_remind_other)}, reverse=True)

    @property
    def home(self) -> Path:
        return self.kam_home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'kam.db'}"

    @property
    def db_url_safe(self) -> str:
        """The database URL to show or log: its password masked (`kam init` output ends up in chat and tickets)."""
        return mask_url(self.db_url)

    @property
    def index_location(self) -> str:
        if self.chroma_host:
            return f"Chroma server {'https' if self.chroma_ssl else 'http'}://{self.chroma_host}:{self.chroma_port}"
        return f"embedded Chroma in {self.chroma_path}"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    def cadence_days(self, tier: str | None) -> int:
        """Contact cadence for a tier; 0 means no cadence (and unknown tiers have none)."""
        return int(getattr(self, f"kam_cadence_{tier}", 0) or 0) if tier else 0

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)


def mask_url(url: str) -> str:
    """A database URL with any password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy can read: show only its scheme
        return url.split(":", 1)[0] + "://***"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
