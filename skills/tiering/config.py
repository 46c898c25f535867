"""tiering.yaml: factors, weights, normalisation, thresholds, hysteresis and key cap; errors name file:line and key."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge.loader import ProfileError, _line_of, parse_yaml, read_text, validation_error

TIERS = ("key", "strategic", "maintenance", "opportunity")
AXES = ("importance", "strength")
# Every factor a config may use: the metrics of a profile (knowledge.profile.Metrics), growth also derived from
# the yearly revenue history when the profile has none.
METRICS = ("revenue", "profit_margin", "purchase_share", "growth", "potential", "footprint",
           "tech_cooperation", "satisfaction", "complaints")
# `clv`, the lifetime value (skills/clv.py, docs/clv.md), is derived from the metrics; it is computed only when a
# config puts it on an axis (the default tiering.yaml does not)
FACTORS = (*METRICS, "clv")
FACTOR_LABELS = {"revenue": "revenue", "profit_margin": "profit margin", "purchase_share": "purchase share",
                 "growth": "growth", "potential": "potential", "footprint": "footprint",
                 "tech_cooperation": "tech cooperation", "satisfaction": "satisfaction", "complaints": "complaints",
                 "clv": "lifetime value"}
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "tiering.yaml"


class TieringConfigError(ProfileError):
    """An invalid tiering.yaml, located by file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Factor(_Strict):
    weight: float = Field(ge=0)
    normalise: Literal["portfolio", "bands"] = "portfolio"
    method: Literal["percentile", "minmax"] = "percentile"  # portfolio normalisation only
    bands: list[tuple[float, float]] | None = None  # [[raw, score], ...]: piecewise linear, flat outside
    direction: Literal["positive", "negative"] = "positive"  # negative: more is worse (complaints)

    @model_validator(mode="after")
    def _bands(self) -> Factor:
        if self.normalise == "bands":
            if not self.bands or len(self.bands) < 2:
                raise ValueError("normalise: bands needs `bands` with at least two [raw, score] points")
            raws = [b[0] for b in self.bands]
            if any(b <= a for a, b in zip(raws, raws[1:], strict=False)):
                raise ValueError("band raw values must be strictly increasing")
            if any(not 0 <= s <= 1 for _, s in self.bands):
                raise ValueError("band scores must be between 0 and 1")
        elif self.bands is not None:
            raise ValueError("`bands` is only used with normalise: bands")
        return self


class Axis(_Strict):
    threshold: float = Field(ge=0, le=1)  # score at or above: the "high" side of this axis
    factors: dict[str, Factor]


class Hysteresis(_Strict):
    margin: float = Field(default=0.05, ge=0, le=0.5)  # cross the threshold by this much to change at once
    consecutive_reviews: int = Field(default=2, ge=1)  # ... or stay across it this many reviews in a row


class TieringConfig(_Strict):
    importance: Axis
    strength: Axis
    hysteresis: Hysteresis = Field(default_factory=Hysteresis)
    key_cap: int | None = Field(default=None, ge=1)  # at most this many key accounts; extras -> strategic
    growth_from_history: bool = True  # derive growth from yearly revenue when the profile has none

    @property
    def uses_clv(self) -> bool:
        return self.axis_of("clv") is not None

    def axis_of(self, factor: str) -> str | None:
        return next((a for a in AXES if factor in self.axis(a).factors), None)

    def axis(self, name: str) -> Axis:
        return self.importance if name == "importance" else self.strength

    def weights(self, axis: str) -> dict[str, float]:
        """Configured weights re-normalised to sum to 1 (they may be written as any non-negative numbers)."""
        factors = self.axis(axis).factors
        total = sum(f.weight for f in factors.values())
        return {name: f.weight / total for name, f in factors.items()}

    def weights_normalised(self, axis: str) -> bool:
        """True when the file's weights did not already sum to 1 (explain says so)."""
        return abs(sum(f.weight for f in self.axis(axis).factors.values()) - 1.0) > 1e-9

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


def config_path(settings: object | None = None) -> Path:
    path = getattr(settings, "kam_tiering_config", None) if settings is not None else None
    return Path(path).expanduser() if path else DEFAULT_CONFIG


def load_config(path: Path | str | None = None) -> TieringConfig:
    """Read and validate a tiering config; every problem is a TieringConfigError naming file, line and key."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise TieringConfigError(path, "tiering config not found (set KAM_TIERING_CONFIG or create the file)")
    try:
        text = read_text(path)
        data = parse_yaml(path, text)
    except ProfileError as exc:
        raise TieringConfigError(exc.path, exc.message, exc.line, exc.field) from exc
    return parse_config(data, path, text)


def parse_config(data: object, path: Path | str = "<config>", text: str = "") -> TieringConfig:
    if not isinstance(data, dict):
        raise TieringConfigError(path, "expected a mapping with importance:, strength:, hysteresis:, key_cap:", line=1)
    seen: dict[str, str] = {}
    for axis in AXES:  # factor names first: pydantic cannot name these keys as precisely
        section = data.get(axis)
        factors = section.get("factors") if isinstance(section, dict) else None
        if not isinstance(factors, dict):
            continue
        if not factors:
            raise _error(path, text, (axis, "factors"), "at least one factor is needed")
        for name in factors:
            if name not in FACTORS:
                raise _error(path, text, (axis, "factors", name),
                             f"unknown factor {name!r}; known factors: {', '.join(FACTORS)}")
            if name in seen:  # one contribution per factor keeps the explanation and the history simple
                raise _error(path, text, (axis, "factors", name),
                             f"factor {name!r} is already on the {seen[name]} axis")
            seen[name] = axis
    try:
        config = TieringConfig.model_validate(data)
    except ValidationError as exc:
        err = validation_error(Path(path), text, TieringConfig, exc)
        raise TieringConfigError(err.path, err.message, err.line, err.field) from exc
    for axis in AXES:
        if sum(f.weight for f in config.axis(axis).factors.values()) <= 0:
            raise _error(path, text, (axis, "factors"), "the weights sum to 0: give at least one factor a weight")
    return config


def _error(path: Path | str, text: str, loc: tuple, message: str) -> TieringConfigError:
    field = ".".join(str(p) for p in loc)
    return TieringConfigError(path, message, line=_line_of(text, loc) if text else None, field=field)
