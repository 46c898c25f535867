"""The sweeps: the daily nudge batch per rep, the weekly manager digest and the tier review, each exactly once.

A sweep is a pure function of the clock and the database: it works out, per recipient, which local days are
due and not yet swept (catch-up after downtime, bounded by KAM_CATCHUP_DAYS), claims each delivery in the
ledger, sends, marks it sent, then records the progress. Running it twice, or after a crash, sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.notifier import Notifier
from knowledge.db import AccountRow
from knowledge.profile import Person
from knowledge.settings import Settings
from knowledge.store import Store
from scheduler import ledger
from scheduler.clock import zone_of
from skills.nudges import (
    Nudge,
    StateView,
    apply_state,
    batches,
    latest_per_cycle,
    latest_weekday,
    load_tiers,
    nudges_between,
    recipients_by_owner,
)

log = logging.getLogger(__name__)


@dataclass
class Recipient:
    ident: str  # email when known, else the owner id given in the profile
    person: Person | None
    local_now: dt.datetime

    @property
    def today(self) -> dt.date:
        return self.local_now.date()

    @property
    def address(self) -> str:
        """Where a DM goes: the Slack id when known, else the email."""
        return (self.person.slack_id or self.person.email) if self.person else self.ident


@dataclass
class SweepReport:
    recipients: int = 0  # recipients whose day was due
    messages: int = 0
    nudges: int = 0
    late: int = 0
    retried: int = 0
    failed: list[str] = field(default_factory=list)
    sent: list[tuple[str, dt.date, int]] = field(default_factory=list)  # (recipient, local day, nudges)


def state_views(store: Store, recipients: set[str] | None = None) -> dict[tuple[str, str, str], StateView]:
    return {k: StateView(r.cycle, r.status, r.until, r.payload or {})
            for k, r in ledger.states(store, recipients).items()}


def owners(store: Store, people: list[Person]) -> dict[str, Person | None]:
    """Everyone who owns an account, keyed by recipient id (email when the person is known)."""
    by_owner = recipients_by_owner(people)
    with store.session() as s:
        ids = set(s.scalars(select(AccountRow.owner).distinct()))
    out: dict[str, Person | None] = {}
    for owner in ids:
        person = by_owner.get(owner) or by_owner.get(owner.lower())
        out[person.email if person else owner] = person
    return out


def _batch_size() -> int:
    from bot.render_nudges import MAX_NUDGES_PER_MESSAGE

    return MAX_NUDGES_PER_MESSAGE


def send_once(notifier: Notifier, address: str, ids: list[int], retry: bool, text: str,
              blocks: list[dict[str, Any]]) -> Any:
    """Send a message for ledger rows `ids`. A retry (rows claimed by a run that died) first asks the notifier
    whether the message already went out: a process can die after Slack accepted it but before it was marked
    sent, and sending it again would nudge twice."""
    if retry:
        find = getattr(notifier, "already_sent", None)
        sent = find(address, ids) if find is not None else None
        if sent is not None:
            log.info("ledger rows %s were already delivered before a crash; not sending again", ids)
            return sent
    return notifier.send_dm(address, text, blocks)


def deliver_batch(store: Store, notifier: Notifier, rcpt: Recipient, items: list[Nudge], report: SweepReport,
                  token: str) -> bool:
    """Claim, send (one message per chunk of the batch) and mark sent. False when a send failed."""
    from bot.render_nudges import nudge_message

    size = _batch_size()
    ok = True
    for i in range(0, len(items), size):
        chunk = items[i:i + size]
        keys = [(ledger.Key(n.kind, n.subject, n.occurrence, n.recipient), n.to_json(), n.late, rcpt.today)
                for n in chunk]
        claimed = ledger.claim(store, keys, token)
        if not claimed:
            continue
        by_key = {c.key: c for c in claimed}
        rows = [(by_key[k].id, n) for (k, *_), n in zip(keys, chunk, strict=True) if k in by_key]
        text, blocks = nudge_message(rows, rcpt.today)
        try:
            sent = send_once(notifier, rcpt.address, [r[0] for r in rows], any(c.retry for c in claimed), text,
                             blocks)
        except Exception as exc:  # left claimed: the next sweep retries it
            log.warning("nudges to %s not sent (%s); will retry", rcpt.ident, exc)
            report.failed.append(rcpt.ident)
            ok = False
            continue
        ledger.mark_sent(store, [r[0] for r in rows], sent.channel, sent.ts)
        report.messages += 1
        report.nudges += len(rows)
        report.late += sum(1 for _, n in rows if n.late)
        report.retried += sum(1 for c in claimed if c.retry)
        report.sent.append((rcpt.ident, rcpt.today, len(rows)))
    return ok


def run_sweep(store: Store, settings: Settings, notifier: Notifier, now: dt.datetime, *,
              only: set[str] | None = None, force: bool = False, tiers: dict[str, str] | None = None) -> SweepReport:
    """Send every rep the nudges of their local days that are due and not yet swept.

    A rep's day is due from KAM_SWEEP_HOUR local time (`force`: right away). `only` limits it to some recipients.
    """
    report = SweepReport()
    people = store.people()
    progress = ledger.sweep_progress(store, "nudges")
    groups: dict[tuple[dt.date, dt.date], list[Recipient]] = defaultdict(list)
    for ident, person in owners(store, people).items():
        if only is not None and ident not in only:
            continue
        rcpt = Recipient(ident, person, now.astimezone(zone_of(person, settings)))
        through = rcpt.today if force or rcpt.local_now.hour >= settings.kam_sweep_hour else \
            rcpt.today - dt.timedelta(days=1)
        last = progress.get(ident)
        start = last + dt.timedelta(days=1) if last else through
        start = max(start, through - dt.timedelta(days=max(settings.kam_catchup_days, 1) - 1))
        if start <= through:
            groups[(start, through)].append(rcpt)
    if not groups:
        return report
    tiers = load_tiers(store) if tiers is None else tiers
    token = ledger.new_claim_token()
    # one computation for every group (reps on either side of the date line are a day apart), then per group
    first, last = min(k[0] for k in groups), max(k[1] for k in groups)
    weekly = {d for a, b in groups if (d := latest_weekday(a, b, settings.kam_weekly_day))}
    everyone = {r.ident for rs in groups.values() for r in rs}
    found = nudges_between(store, settings, first, last, tiers, everyone, latest_only=False, weekly_days=weekly)
    states = state_views(store, everyone)
    still_overdue = None
    if any(k[1] == "overdue_contact" and v.status == "snoozed" for k, v in states.items()):
        from skills.cadence import overdue_accounts

        still_overdue = {o.account_id for o in overdue_accounts(store, settings, tiers, last)}
    by_rcpt: dict[str, list[Nudge]] = defaultdict(list)
    for n in found:
        by_rcpt[n.recipient].append(n)
    for (start, through), rcpts in sorted(groups.items()):
        week_day = latest_weekday(start, through, settings.kam_weekly_day)
        for rcpt in rcpts:
            report.recipients += 1
            mine = [n for n in by_rcpt.get(rcpt.ident, []) if start <= n.remind_on <= through
                    and (n.kind not in ("coverage_risk", "stale") or n.remind_on == week_day)]
            st = {k: v for k, v in states.items() if k[0] == rcpt.ident}
            items = batches(apply_state(latest_per_cycle(mine), st, start, through, still_overdue)).get(rcpt.ident, [])
            for n in items:
                n.late = n.remind_on < rcpt.today
                if n.kind not in ("overdue_contact", "coverage_risk", "stale"):
                    n.days_left = (n.due - rcpt.today).days
            if deliver_batch(store, notifier, rcpt, items, report, token):
                ledger.set_progress(store, "nudges", rcpt.ident, through)
    return report


# ------------------------------------------------------------------ digest
def managers(people: list[Person]) -> list[Person]:
    """Managers, and anyone else somebody reports to."""
    has_reports = {p.manager for p in people if p.manager}
    return [p for p in people if p.role == "manager" or p.email in has_reports]


def digest_day(local_now: dt.datetime, settings: Settings, force: bool = False) -> dt.date | None:
    """The local day of the latest digest slot that has begun (this week's day at the digest hour)."""
    if force:
        return local_now.date()
    today = local_now.date()
    day = latest_weekday(today - dt.timedelta(days=6), today, settings.kam_digest_day)
    if day == today and local_now.hour < settings.kam_digest_hour:
        day = today - dt.timedelta(days=7)
    return day


def run_digests(store: Store, settings: Settings, notifier: Notifier, now: dt.datetime, *,
                only: set[str] | None = None, force: bool = False,
                tiers: dict[str, str] | None = None) -> SweepReport:
    """Send each manager the digest of the latest slot once (late if the slot passed while down)."""
    from bot.render_nudges import digest_message
    from skills.digest import build_digest

    report = SweepReport()
    people = store.people()
    progress = ledger.sweep_progress(store, "digest")
    tiers = load_tiers(store) if tiers is None else tiers
    token = ledger.new_claim_token()
    for m in managers(people):
        if only is not None and m.email not in only:
            continue
        local_now = now.astimezone(zone_of(m, settings))
        day = digest_day(local_now, settings, force)
        if day is None or (m.email not in progress and day != local_now.date()):
            continue  # never ran before: start with the next slot instead of a late one
        if m.email in progress and day <= progress[m.email] and not force:
            continue
        if (local_now.date() - day).days >= settings.kam_catchup_days:
            continue
        rcpt = Recipient(m.email, m, local_now)
        report.recipients += 1
        since = ledger.last_sent_day(store, "digest", m.email) or day - dt.timedelta(days=7)
        digest = build_digest(store, settings, m.email, day, since=since, tiers=tiers)
        late = day < local_now.date()
        payload: dict[str, Any] = {"manager": m.email, "on": day.isoformat(), "totals": digest.totals}
        claimed = ledger.claim(store, [(ledger.Key("digest", m.email, day.isoformat(), m.email), payload, late,
                                        local_now.date())], token)
        if claimed:
            from bot.kpi_slack import digest_charts

            text, blocks = digest_message(digest, late=late,
                                          charts=digest_charts(notifier, store, settings, m, day))
            if blocks:  # tagged with its ledger row, so a retry after a crash can find it (send_once)
                blocks = [{**blocks[0], "block_id": f"delivery:{claimed[0].id}"}, *blocks[1:]]
            try:
                sent = send_once(notifier, rcpt.address, [claimed[0].id], claimed[0].retry, text, blocks)
            except Exception as exc:
                log.warning("digest to %s not sent (%s); will retry", m.email, exc)
                report.failed.append(m.email)
                continue
            ledger.mark_sent(store, [claimed[0].id], sent.channel, sent.ts)
            report.messages += 1
            report.late += int(late)
            report.retried += int(claimed[0].retry)
            report.sent.append((m.email, day, 1))
        ledger.set_progress(store, "digest", m.email, day)
    return report


# ------------------------------------------------------------------ tier review
def run_tier_review(kb: Any, settings: Settings, notifier: Notifier | None, now: dt.datetime) -> Any:
    """The periodic tier review (once per local day of KAM_TIMEZONE); posts changes when a poster exists."""
    try:
        from skills.tiering.config import config_path, load_config
        from skills.tiering.history import review
    except ImportError:
        log.info("tiering is not installed; no tier review")
        return None
    store = kb.store
    day = now.astimezone(zone_of(None, settings)).date()
    claimed = ledger.claim(store, [(ledger.Key("tier_review", "all", day.isoformat(), "scheduler"), {}, False, day)],
                           ledger.new_claim_token())
    if not claimed:
        return None
    result = review(store, load_config(config_path(settings)), by="scheduler", today=day)
    if notifier is not None and result.changes:
        try:
            from bot.tier_posts import post_tier_changes
        except ImportError:
            post_tier_changes = None
        if post_tier_changes is not None:
            post_tier_changes(notifier, kb, result.changes)
    ledger.mark_sent(store, [claimed[0].id], "review", str(result.review_id))
    return result
