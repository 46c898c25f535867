"""The account profile and people models: the validated shape of the user-facing YAML (docs/profile-format.md)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from knowledge import limits
from knowledge.dimensions import DIMENSION_TITLES, DIMENSIONS  # noqa: F401 - re-exported

Dimension = Literal["background", "finance", "organisation", "competitors", "suppliers", "downstream"]

CONTACT_ROLES = ("decision_maker", "economic_buyer", "influencer", "champion", "user", "blocker")
KEY_DATE_KINDS = ("renewal", "review", "visit", "anniversary", "other")
INTERACTION_KINDS = ("visit", "call", "meeting", "email")
PERSON_ROLES = ("rep", "manager", "admin")



def _to_text(value: Any) -> Any:
    """YAML turns `revenue: 2100000` or `updated: 2026-01-01` into numbers/dates; free-text fields keep them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | dt.date):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _person_id(value: str) -> str:
    """Who owns, works on or met an account: an email, or a Slack user id (U.../W...)."""
    if "@" in value or SLACK_USER_ID.fullmatch(value):
        return value
    raise ValueError("must be an email address or a Slack user id (U0123ABCD)")


def _not_bool(value: Any) -> Any:
    """YAML reads `true`/`yes` as booleans, which pydantic would quietly take as 1 and 0."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
# Every text has a length limit (knowledge/limits.py): names and one-line values are short (database columns),
# free text is long but bounded, so one field can never make indexing run for hours.
Text = Annotated[str, StringConstraints(max_length=limits.MAX_TEXT_CHARS), BeforeValidator(_to_text)]
Name = Annotated[str, StringConstraints(max_length=limits.MAX_NAME_CHARS), BeforeValidator(_to_text)]
Line = Annotated[str, StringConstraints(max_length=limits.MAX_LINE_CHARS), BeforeValidator(_to_text)]
PersonId = Annotated[str, StringConstraints(max_length=limits.MAX_LINE_CHARS), BeforeValidator(_to_text),
                     AfterValidator(_person_id)]
# numbers are finite and never booleans (`revenue: .inf`, `growth: .nan`, `revenue: true` are errors)
Number = Annotated[float, BeforeValidator(_not_bool), AllowInfNan(False)]
Count = Annotated[int, BeforeValidator(_not_bool)]
SlackId = Annotated[str, StringConstraints(pattern=f"^{SLACK_USER_ID.pattern}$"), BeforeValidator(_to_text)]


def _listify(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


NameList = Annotated[list[Name], BeforeValidator(_listify), Field(max_length=limits.MAX_ALIASES)]
PersonList = Annotated[list[PersonId], BeforeValidator(_listify), Field(max_length=limits.MAX_TEAM)]


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
    name: Name
    notes: Text | None = None


class Competitors(DimensionBase):
    items: list[Competitor] = Field(default_factory=list, max_length=limits.MAX_ITEMS)


class Supplier(Strict):
    name: Name
    share: Number | None = Field(default=None, ge=0, le=1)  # share of the account's spend in our category
    satisfaction: Number | None = Field(default=None, ge=1, le=5)
    notes: Text | None = None


class Suppliers(DimensionBase):
    strategy: Text | None = None
    items: list[Supplier] = Field(default_factory=list, max_length=limits.MAX_ITEMS)

    @model_validator(mode="after")
    def _shares(self) -> Suppliers:
        total = sum(i.share or 0 for i in self.items)
        if total > 1 + 1e-6:  # shares of one spend: together at most 100%
            raise ValueError(f"the suppliers' shares add up to {total:.2f}, more than 1 (100%)")
        return self


class Customer(Strict):
    name: Name
    needs: Text | None = None
    notes: Text | None = None


class Downstream(DimensionBase):
    items: list[Customer] = Field(default_factory=list, max_length=limits.MAX_ITEMS)


_BIRTHDAY = re.compile(r"^(?:(\d{4})|-)-(\d{2})-(\d{2})$")


class Contact(Strict):
    name: Name
    title: Name | None = None
    role: Literal["decision_maker", "economic_buyer", "influencer", "champion", "user", "blocker"] | None = None
    influence: Literal["high", "medium", "low"] | None = None
    birthday: str | None = None  # YYYY-MM-DD, or --MM-DD when the year is unknown
    email: Line | None = None
    phone: Annotated[str, StringConstraints(max_length=64), BeforeValidator(_to_text)] | None = None
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
    title: Line
    remind: list[Annotated[Count, Field(ge=0, le=limits.MAX_REMIND_DAYS)]] | None = Field(
        default=None, max_length=limits.MAX_REMIND)  # days before; None -> defaults per kind from settings

    @field_validator("remind")
    @classmethod
    def _remind(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(v < 0 for v in value):
            raise ValueError("remind offsets are days before the date and must be >= 0")
        return sorted(set(value), reverse=True) if value is not None else None


class Interaction(Strict):
    date: dt.date
    kind: Literal["visit", "call", "meeting", "email"]
    by: PersonId | None = None
    summary: Text | None = None


class Metrics(Strict):
    revenue: Number | None = Field(default=None, ge=0, le=1e15)  # annual revenue with us, reporting currency
    profit_margin: Number | None = Field(default=None, ge=-1, le=1)
    purchase_share: Number | None = Field(default=None, ge=0, le=1)
    growth: Number | None = Field(default=None, ge=-1, le=1000)  # year-over-year growth of revenue with us
    potential: Number | None = Field(default=None, ge=1, le=5)
    footprint: Number | None = Field(default=None, ge=1, le=5)
    tech_cooperation: Number | None = Field(default=None, ge=1, le=5)
    satisfaction: Number | None = Field(default=None, ge=1, le=5)
    complaints: Count | None = Field(default=None, ge=0, le=1_000_000)
    as_of: dt.date | None = None


class Note(Strict):
    date: dt.date
    dimension: Dimension
    by: PersonId | None = None
    text: Text


class AccountProfile(Strict):
    account: Name = Field(min_length=1)
    aliases: NameList = Field(default_factory=list)
    owner: PersonId = Field(min_length=1)  # email (preferred) or Slack user id
    team: PersonList = Field(default_factory=list)
    industry: Line | None = None
    region: Line | None = None

    background: Background = Field(default_factory=Background)
    finance: Finance = Field(default_factory=Finance)
    organisation: Organisation = Field(default_factory=Organisation)
    competitors: Competitors = Field(default_factory=Competitors)
    suppliers: Suppliers = Field(default_factory=Suppliers)
    downstream: Downstream = Field(default_factory=Downstream)

    contacts: list[Contact] = Field(default_factory=list, max_length=limits.MAX_ITEMS)
    key_dates: list[KeyDate] = Field(default_factory=list, max_length=limits.MAX_ITEMS)
    interactions: list[Interaction] = Field(default_factory=list, max_length=limits.MAX_RECORDS)
    metrics: Metrics = Field(default_factory=Metrics)
    notes: list[Note] = Field(default_factory=list, max_length=limits.MAX_RECORDS)

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
    email: Line = Field(min_length=3)
    name: Name | None = None
    slack_id: SlackId | None = None
    role: Literal["rep", "manager", "admin"] = "rep"
    manager: Line | None = None  # the manager's email
    timezone: Annotated[str, StringConstraints(max_length=64), BeforeValidator(_to_text)] | None = None  # IANA name

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
