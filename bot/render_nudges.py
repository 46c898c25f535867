"""Block Kit for the daily nudge batch, the manager digest and the "Log a visit" modal, within Slack's limits.

Every nudge's buttons carry its ledger row id (in the block id and each action id, which Slack requires to be
unique within a message); bot/handlers_nudges.py reads it back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from skills.digest import KEY_DATE_HORIZON_DAYS, Digest
from skills.nudges import Nudge

MAX_NUDGES_PER_MESSAGE = 20  # 2 blocks each + header + context stays under the 50-block message limit
SECTION_CHARS = 2900  # a section's text may hold 3000
ACTIONS = ("nudge_done", "nudge_snooze_1d", "nudge_snooze_1w", "nudge_reschedule", "nudge_log_visit")
LOG_VISIT_CALLBACK = "nudge_log_visit_submit"

ICONS = {"renewal": ":repeat:", "review": ":clipboard:", "visit": ":handshake:", "anniversary": ":tada:",
         "other": ":pushpin:", "birthday": ":birthday:", "overdue_contact": ":hourglass:",
         "coverage_risk": ":warning:", "stale": ":broom:", "case_due": ":bell:", "case_overdue": ":sos:",
         "competitor_alert": ":crossed_swords:"}
KIND_LABELS = {"renewal": "Renewal", "review": "Review", "visit": "Visit", "anniversary": "Anniversary",
               "other": "Key date", "birthday": "Birthday", "overdue_contact": "Overdue contact",
               "coverage_risk": "Coverage risk", "stale": "Freshness", "case_due": "Service case due",
               "case_overdue": "Service case overdue", "competitor_alert": "Competitor alert"}


def esc(text: str) -> str:
    """Escape Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(days: int | None) -> str:
    if days is None:
        return ""
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def nudge_line(n: Nudge) -> str:
    """The mrkdwn text of one nudge."""
    head = f"{ICONS.get(n.kind, '')} *{esc(n.account)}*: {esc(n.title)}"
    if n.kind in ("overdue_contact", "coverage_risk", "stale", "case_due", "case_overdue", "competitor_alert"):
        body = esc(n.detail)  # a case's text is the customer's words: data, shown escaped
        if n.escalate:
            body += " *Escalated to your manager's digest.*"
    else:
        body = f"{KIND_LABELS[n.kind]} on {n.due:%a %d %b %Y} ({_when(n.days_left)})"
    if n.late:
        body += f"\n_Late: due for {n.remind_on:%a %d %b} while kam-bot was offline._"
    if n.resurfaced:
        body += "\n_Back after a snooze._"
    return _clip(f"{head}\n{body}", SECTION_CHARS)


def nudge_actions(ledger_id: int, n: Nudge, today: dt.date) -> dict[str, Any]:
    def button(action: str, label: str, style: str | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {"type": "button", "action_id": f"{action}:{ledger_id}", "value": str(ledger_id),
                             "text": {"type": "plain_text", "text": label}}
        if style:
            b["style"] = style
        return b

    elements = [button("nudge_done", "Done", "primary"), button("nudge_snooze_1d", "Snooze 1 day"),
                button("nudge_snooze_1w", "Snooze 1 week"),
                {"type": "datepicker", "action_id": f"nudge_reschedule:{ledger_id}",
                 "initial_date": (today + dt.timedelta(days=7)).isoformat(),
                 "placeholder": {"type": "plain_text", "text": "Reschedule"}}]
    if n.kind == "overdue_contact":
        elements.append(button("nudge_log_visit", "Log a visit"))
    if n.kind == "stale" and (n.extra or {}).get("missing"):
        from bot.render_edit import fill_in_buttons  # opens the form of each missing required field

        elements += fill_in_buttons(n.account_id, list(n.extra["missing"]), str(ledger_id))
    return {"type": "actions", "block_id": f"nudge:{ledger_id}", "elements": elements}


def nudge_message(rows: list[tuple[int, Nudge]], today: dt.date) -> tuple[str, list[dict[str, Any]]]:
    """One rep's batch (at most MAX_NUDGES_PER_MESSAGE nudges, already most urgent first)."""
    if len(rows) > MAX_NUDGES_PER_MESSAGE:
        raise ValueError(f"at most {MAX_NUDGES_PER_MESSAGE} nudges per message")
    count = f"{len(rows)} nudge{'s' if len(rows) != 1 else ''}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Your key accounts today: {count}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{today:%A %d %B %Y}, most urgent first"}]},
    ]
    if any(n.late for _, n in rows):
        blocks[1]["elements"].append({"type": "mrkdwn", "text": ":zzz: some are late: kam-bot was offline"})
    for ledger_id, n in rows:
        blocks.append({"type": "section", "block_id": f"nudge_text:{ledger_id}",
                       "text": {"type": "mrkdwn", "text": nudge_line(n)}})
        blocks.append(nudge_actions(ledger_id, n, today))
    lines = [f"- {n.account}: {n.title}" + (" (late)" if n.late else "") for _, n in rows]
    text = _clip(f"{count} for {today:%a %d %b}:\n" + "\n".join(lines), 3000)
    return text, blocks


def settle(blocks: list[dict[str, Any]], ledger_id: int, note: str) -> list[dict[str, Any]]:
    """The message with one nudge's buttons replaced by what was done with it."""
    out = []
    for b in blocks:
        if b.get("block_id") == f"nudge:{ledger_id}":
            out.append({"type": "context", "block_id": f"nudge:{ledger_id}",
                        "elements": [{"type": "mrkdwn", "text": _clip(note, 2900)}]})
        else:
            out.append(b)
    return out


def log_visit_modal(ledger_id: int, account: str, today: dt.date) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": LOG_VISIT_CALLBACK, "private_metadata": str(ledger_id),
        "title": {"type": "plain_text", "text": "Log a visit"},
        "submit": {"type": "plain_text", "text": "Log"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{esc(_clip(account, 200))}*"}},
            {"type": "input", "block_id": "visit_date", "label": {"type": "plain_text", "text": "Date"},
             "element": {"type": "datepicker", "action_id": "date", "initial_date": today.isoformat()}},
            {"type": "input", "block_id": "visit_summary", "label": {"type": "plain_text", "text": "What happened"},
             "element": {"type": "plain_text_input", "action_id": "summary", "multiline": True, "max_length": 2000}},
        ],
    }


# ------------------------------------------------------------------ digest
def _section(title: str, lines: list[str]) -> dict[str, Any] | None:
    """A titled list that stays within a section's 3000 characters ("…and N more" when cut); None when empty (an
    empty section is left out of the digest)."""
    if not lines:
        return None
    text = f"*{title}*"
    for i, line in enumerate(lines):
        if len(text) + len(line) + 30 > SECTION_CHARS:
            text += f"\n…and {len(lines) - i} more"
            break
        text += "\n" + line
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _who(email: str) -> str:
    return esc(email.split("@")[0])


def digest_message(d: Digest, late: bool = False,
                   charts: list[Any] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The manager digest: tier changes, key dates ahead, overdue per rep (escalations first), coverage, freshness."""
    ctx = [{"type": "mrkdwn", "text": esc(d.totals_line())}]
    if late:
        ctx.append({"type": "mrkdwn", "text": ":zzz: late: kam-bot was offline when it was due"})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"Team digest, week of {d.on:%d %b %Y}", 150)}},
        {"type": "context", "elements": ctx},
    ]
    sections = [
        _section(f"Tier changes since {d.since:%d %b}", [
            f"• *{esc(c.account)}* ({_who(c.rep)}): {c.old_tier} → {c.new_tier}"
            + (f" — {esc(_clip(c.reason, 200))}" if c.reason else "") for c in d.tier_changes]),
        _section(f"Key dates in the next {KEY_DATE_HORIZON_DAYS} days", [
            f"• {k.date:%a %d %b}: *{esc(k.account)}* {KIND_LABELS.get(k.kind, k.kind).lower()}: "
            f"{esc(_clip(k.title, 150))} ({_who(k.rep)})" for k in d.key_dates]),
    ]
    overdue_lines = []
    for rep, items in sorted(d.overdue.items(), key=lambda kv: (-sum(o.escalate for o in kv[1]), kv[0])):
        parts = [("*:rotating_light: " if o.escalate else "") + esc(o.account)
                 + (f" {o.days_since}d" if o.days_since is not None else " never")
                 + ("*" if o.escalate else "") for o in items]
        overdue_lines.append(f"• {_who(rep)}: " + ", ".join(parts))
    sections.append(_section(f"Overdue for contact ({d.totals.get('escalations', 0)} escalated)", overdue_lines))
    sections.append(_section("Service cases escalated (past twice their target)", [
        f"• :rotating_light: *{esc(e.account)}* case #{e.case_id} ({_who(e.owner)}, {e.severity}): {e.stage} "
        f"target {e.target} was due {e.due:%a %d %b %H:%M}: {esc(_clip(e.text, 150))}" for e in d.case_escalations]))
    sections.append(_section(f"Competitor alerts since {d.since:%d %b}", [
        f"• *{esc(c.account)}* ({_who(c.rep)}): {esc(c.title)}: {esc(_clip(c.detail, 300))}" for c in d.competitor]))
    sections.append(_section("Coverage risks", [f"• *{esc(c.account)}* ({c.tier}, {_who(c.rep)}): {esc(c.detail)}"
                                                for c in d.coverage]))
    sections.append(_section("Stale profiles", [f"• *{esc(c.account)}* ({_who(c.rep)}): {esc(c.detail)}"
                                                for c in d.stale]))
    blocks += [b for b in sections if b is not None]  # empty sections are left out
    if len(blocks) == 2:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "Nothing needs your attention."}})
    if d.kpis and d.kpis.get("accounts"):  # the team's KPIs, and the charts that were uploaded (bot/kpi_slack.py)
        from bot.render_kpis import kpi_blocks
        from skills.kpis import KpiSet

        blocks += kpi_blocks("Team KPIs", KpiSet.from_json(d.kpis), d.kpi_period_days, charts=charts)
    text = f"Team digest for {d.on:%d %b %Y}: {d.totals_line()}" + (" (late)" if late else "")
    return text, blocks
