"""The account profile and people models: the validated shape of the user-facing YAML (docs/profile-format.md)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

DIMENSIONS = ("background", "finance", "organisation", "competitors", "suppliers", "downstream")
Dimension = Literal["background", "finance", "organisation", "competitors", "suppliers", "downstream"]

CONTACT_ROLES = ("decision_maker", "economic_buyer", "influencer", "champion", "user", "blocker")
KEY_DATE_KINDS = ("renewal", "review", "visit", "anniversary", "other")
INTERACTION_KINDS = ("visit", "call", "meeting", "email")
PERSON_ROLES = ("rep", "manager", "admin")

DIMENSION_TITLES = {
    "background": "Background (industry, business strategy)",
    "finance": "Finance (sales volume, revenue, market share, budget)",
    "organisation": "Organisation (structure, power relations, decision makers)",
    "competitors": "Competitors (the account's rivals, threats, strengths)",
    "suppliers": "Suppliers (the account's other suppliers, share, satisfaction, supplier strategy)",
    "downstream": "Downstream (the account's customers and their needs)",
}


def _to_text(value: Any) -> Any:
    """YAML turns `revenue: 2100000` or `updated: 2026-01-01` into numbers/dates; free-text fields keep them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | dt.date):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


Text = Annotated[str, BeforeValidator(_to_text)]


def _listify(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


TextList = Annotated[list[Text], BeforeValidator(_listify)]


class Strict(BaseModel):
    """Unknown keys are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DimensionBase(Strict):
    summary: Text | None = None
    updated: dt.date | None = None  # per-dimension "as of" date

    def is_empty(self) -> bool:
        return not any(v not in (None, "", []) for k, v in self if k != "updated")


class Background(DimensionBase):
    strategy: Text | None = None


class Finance(DimensionBase):
    revenue: Text | None = None
    sales_volume: Text | None = None
    market_share: Text | None = None
    budget: Text | None = None


class Organisation(DimensionBase):
    structure: Text | None = None
    power: Text | None = None


class Competitor(Strict):
    name: Text
    notes: Text | None = None


class Competitors(DimensionBase):
    items: list[Competitor] = Field(default_factory=list)


class Supplier(Strict):
    name: Text
    share: float | None = Field(default=None, ge=0, le=1)  # share of the account's spend in our category
    satisfaction: float | None = Field(default=None, ge=1, le=5)
    notes: Text | None = None


class Suppliers(DimensionBase):
    strategy: Text | None = None
    items: list[Supplier] = Field(default_factory=list)


class Customer(Strict):
    name: Text
    needs: Text | None = None
    notes: Text | None = None


class Downstream(DimensionBase):
    items: list[Customer] = Field(default_factory=list)


_BIRTHDAY = re.compile(r"^(?:(\d{4})|-)-(\d{2})-(\d{2})$")


class Contact(Strict):
    name: Text
    title: Text | None = None
    role: Literal["decision_maker", "economic_buyer", "influencer", "champion", "user", "blocker"] | None = None
    influence: Literal["high", "medium", "low"] | None = None
    birthday: str | None = None  # YYYY-MM-DD, or --MM-DD when the year is unknown
    email: Text | None = None
    phone: Text | None = None
    notes: Text | None = None

    @field_validator("birthday", mode="before")
    @classmethod
    def _birthday(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value.isoformat()
        text = str(value).strip()
        match = _BIRTHDAY.match(text)
        if not match:
            raise ValueError("birthday must be YYYY-MM-DD, or --MM-DD when the year is unknown")
        year = int(match.group(1)) if match.group(1) else 2000  # 2000 is a leap year: --02-29 is valid
        dt.date(year, int(match.group(2)), int(match.group(3)))  # raises on 02-31 and the like
        return text

    @property
    def birthday_month_day(self) -> tuple[int, int] | None:
        if not self.birthday:
            return None
        match = _BIRTHDAY.match(self.birthday)
        assert match
        return int(match.group(2)), int(match.group(3))


class KeyDate(Strict):
    date: dt.date
    kind: Literal["renewal", "review", "visit", "anniversary", "other"] = "other"
    title: Text
    remind: list[int] | None = None  # days before; None -> defaults per kind from settings

    @field_validator("remind")
    @classmethod
    def _remind(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(v < 0 for v in value):
            raise ValueError("remind offsets are days before the date and must be >= 0")
        return sorted(set(value), reverse=True) if value is not None else None


class Interaction(Strict):
    date: dt.date
    kind: Literal["visit", "call", "meeting", "email"]
    by: Text | None = None
    summary: Text | None = None


class Metrics(Strict):
    revenue: float | None = Field(default=None, ge=0)  # annual revenue with us, reporting currency
    profit_margin: float | None = Field(default=None, ge=-1, le=1)
    purchase_share: float | None = Field(default=None, ge=0, le=1)
    growth: float | None = None  # year-over-year growth of revenue with us
    potential: float | None = Field(default=None, ge=1, le=5)
    footprint: float | None = Field(default=None, ge=1, le=5)
    tech_cooperation: float | None = Field(default=None, ge=1, le=5)
    satisfaction: float | None = Field(default=None, ge=1, le=5)
    complaints: int | None = Field(default=None, ge=0)
    as_of: dt.date | None = None


class Note(Strict):
    date: dt.date
    dimension: Dimension
    by: Text | None = None
    text: Text


class AccountProfile(Strict):
    account: Text = Field(min_length=1)
    aliases: TextList = Field(default_factory=list)
    owner: Text = Field(min_length=1)  # email (preferred) or Slack user id
    team: TextList = Field(default_factory=list)
    industry: Text | None = None
    region: Text | None = None

    background: Background = Field(default_factory=Background)
    finance: Finance = Field(default_factory=Finance)
    organisation: Organisation = Field(default_factory=Organisation)
    competitors: Competitors = Field(default_factory=Competitors)
    suppliers: Suppliers = Field(default_factory=Suppliers)
    downstream: Downstream = Field(default_factory=Downstream)

    contacts: list[Contact] = Field(default_factory=list)
    key_dates: list[KeyDate] = Field(default_factory=list)
    interactions: list[Interaction] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    notes: list[Note] = Field(default_factory=list)

    @field_validator("background", "finance", "organisation", "competitors", "suppliers", "downstream",
                     "metrics", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("contacts", "key_dates", "interactions", "notes", mode="before")
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return [] if value is None else value

    def dimension(self, name: str) -> DimensionBase:
        return getattr(self, name)


class Person(Strict):
    email: Text = Field(min_length=3)
    name: Text | None = None
    slack_id: Text | None = None
    role: Literal["rep", "manager", "admin"] = "rep"
    manager: Text | None = None  # the manager's email
    timezone: Text | None = None  # IANA name, e.g. Asia/Shanghai

    @field_validator("email", "manager")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("must be an email address")
        return value.lower() if value else value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value
