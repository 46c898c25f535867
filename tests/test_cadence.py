"""Contact cadence by tier: overdue and escalation thresholds."""

from __future__ import annotations

import datetime as dt

from skills.cadence import overdue_accounts


def test_overdue_by_tier_cadence(sample_kb):
    settings, store, index = sample_kb
    ids = {s.name: s.id for s in store.summaries()}
    today = dt.date(2026, 11, 23)
    tiers = {ids["Orion Circuit Assemblies"]: "key", ids["Hanshan Packaging Co."]: "key",
             ids["Lakeside Brewing Co."]: "opportunity", ids["Acme Industrial"]: "strategic"}
    overdue = {o.account: o for o in overdue_accounts(store, settings, tiers, today)}
    assert "Lakeside Brewing Co." not in overdue  # opportunity: no cadence
    orion = overdue["Orion Circuit Assemblies"]  # last contact 199 days ago, key cadence 30
    assert orion.cadence_days == 30 and orion.days_since == 199 and orion.escalate
    acme = overdue["Acme Industrial"]  # 76 days, strategic cadence 45: overdue, not yet escalated (90)
    assert acme.days_since == 76 and not acme.escalate
    last_hanshan = max(i.date for i in store.load_profile(ids["Hanshan Packaging Co."]).interactions)
    assert ("Hanshan Packaging Co." in overdue) == ((today - last_hanshan).days > 30)
    assert list(overdue)[0] == "Orion Circuit Assemblies"  # most overdue first
