"""Block Kit for everything that is not an answer: `/kam` replies (account, dates, tiers, note confirmation, help),
the App Home "My portfolio" pages and the account modal. Pure functions of plain data."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from bot.render_answer import Block, context, escape, section, split_text
from knowledge.chunks import dimension_text
from knowledge.profile import DIMENSION_TITLES, DIMENSIONS, AccountProfile
from knowledge.quality import Quality
from skills.portfolio import TIER_TITLES, Portfolio, UpcomingDate

HOME_PAGE_ACCOUNTS = 40  # account lines per Home page; keeps every page well under 100 blocks
HOME_FILL_IN_ACCOUNTS = 5  # accounts of "Profile gaps" with Fill in buttons (block budget: 100 a view)
HOME_ACTION_ACCOUNT = "kam_home_account"
HOME_EDIT_SELECT = "kam_home_edit"  # the Home tab's "Edit an account" select (options: the first 100 accounts)
HOME_ACTION_PAGE = "kam_home_page"
NOTE_DIMENSION = "kam_note_dimension"
NOTE_SAVE = "kam_note_save"
NOTE_CANCEL = "kam_note_cancel"
NOTE_BLOCK = "kam_note_dim"
KIND_ICONS = {"renewal": "🔁", "review": "📋", "visit": "🤝", "anniversary": "🎉", "birthday": "🎂", "other": "📌"}

OwnerLabel = Callable[[str], str]

HELP = """*kam-bot* answers questions about your key accounts, from the profiles you may see.
• Mention me in a channel (`@kam who decides at Acme?`) or send me a DM; I answer in the thread, and follow-ups \
in that thread need no new mention.
• `/kam ask <question>`: ask privately.
• `/kam account <name> [dimension]`: a profile, or one dimension (background, finance, organisation, competitors, \
suppliers, downstream).
• `/kam dates [days]`: key dates and birthdays coming up (default 30 days).
• `/kam tiers`: your accounts by tier.
• `/kam kpis [90d|12w]`: your KAM KPIs (a manager: the team's, per rep), default the last 90 days.
• `/kam note <account>: <text>`: save intelligence as a dated note; I guess the dimension and you confirm.
• `/kam edit <account> [dimension|contacts|metrics|dates]`: change a profile in a form.
• `/kam case <account>: <what happened>`: open a service case (add `high` or `low` before \
the colon); it is handled in a thread, within the service levels of the account's tier.
• `/kam handover [FROM TO [accounts]]`: managers and admins hand a rep's accounts to another rep.
• `/kam help`: this message.
Replies are only visible to you; start with `share` (e.g. `/kam share account Acme`) to post them in the channel.
The *Home* tab shows your portfolio: accounts by tier, next key dates, overdue accounts and profile gaps."""


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150] or " ", "emoji": True}}


def divider() -> Block:
    return {"type": "divider"}


def help_blocks() -> list[Block]:
    return [section(HELP)]


def pct(value: float) -> str:
    return f"{round(value * 100):d}%"


def _lines_sections(lines: list[str]) -> list[Block]:
    return [section(p) for p in split_text("\n".join(lines))] if lines else []


def account_blocks(profile: AccountProfile, q: Quality, tier: str | None, owner_label: OwnerLabel,
                   dimension: str | None = None, max_blocks: int = 50, account_id: str | None = None) -> list[Block]:
    """A profile (or one dimension of it) as message/modal blocks, cut to `max_blocks`. With `account_id`, each
    dimension has an Edit button and the end has buttons for contacts, key dates and metrics (bot/render_edit.py)."""
    from bot.render_edit import edit_button

    facts = [f"Owner {owner_label(profile.owner)}", f"Tier: {TIER_TITLES.get(tier or 'untiered', tier or '')}",
             f"Profile {pct(q.overall)} complete"]
    if profile.industry:
        facts.append(escape(profile.industry))
    blocks: list[Block] = [header(profile.account), context(" · ".join(facts))]
    dims = [dimension] if dimension else list(DIMENSIONS)
    for dim in dims:
        section_data = profile.dimension(dim)
        text = dimension_text(profile, dim)
        as_of = f"as of {section_data.updated.isoformat()}" if section_data.updated else "undated"
        stale = " · ⚠️ stale" if dim in q.stale else ""
        title = f"*{escape(DIMENSION_TITLES[dim])}* ({as_of}{stale})"
        body = escape(text) if text else "_Nothing on file yet._"
        parts = [section(p) for p in split_text(f"{title}\n{body}")]
        if account_id:
            parts[0]["accessory"] = edit_button(account_id, dim, "Edit", dim)
        blocks += parts
        notes = [n for n in profile.notes if n.dimension == dim][-3:]
        if notes:
            blocks.append(context(*[f"📝 {n.date.isoformat()} {escape(n.text)[:280]}" for n in notes]))
    if not dimension:
        contacts = [f"• *{escape(c.name)}*" + (f", {escape(c.title)}" if c.title else "")
                    + (f" ({c.role.replace('_', ' ')})" if c.role else "") for c in profile.contacts]
        if contacts:
            blocks += _lines_sections(["*Contacts*", *contacts])
        dates = [f"• {d.date.isoformat()} {KIND_ICONS.get(d.kind, '')} {escape(d.title)}" for d in profile.key_dates]
        if dates:
            blocks += _lines_sections(["*Key dates*", *dates])
        if q.missing:
            blocks.append(context("Missing: " + escape(", ".join(q.missing))))
        if account_id:
            buttons = [edit_button(account_id, t, label, f"x{i}") for i, (t, label) in enumerate(
                [("contacts", "Add contact"), ("key_dates", "Add key date"), ("metrics", "Edit metrics")]
                + [(f"contacts[{c.name}]", f"Edit {c.name}") for c in profile.contacts[:22]])]
            blocks.append({"type": "actions", "elements": buttons})
    if len(blocks) > max_blocks:
        blocks = blocks[: max_blocks - 1] + [context("… cut to fit Slack; `kam show` has the whole profile.")]
    return blocks


def date_line(u: UpcomingDate, owner_label: OwnerLabel | None = None) -> str:
    when = "today" if u.days_until == 0 else ("tomorrow" if u.days_until == 1 else f"in {u.days_until} days")
    owner = f" · {owner_label(u.owner)}" if owner_label else ""
    return (f"• {u.date.isoformat()} ({when}) {KIND_ICONS.get(u.kind, '📌')} *{escape(u.account)}*: "
            f"{escape(u.title)}{owner}")


def dates_blocks(upcoming: list[UpcomingDate], days: int, owner_label: OwnerLabel) -> list[Block]:
    if not upcoming:
        return [section(f"No key dates or birthdays in the next {days} days for the accounts you can see.")]
    lines = [f"*Coming up in the next {days} days*"] + [date_line(u, owner_label) for u in upcoming]
    blocks = _lines_sections(lines)
    return blocks[:49] + ([context("… more than fits here.")] if len(blocks) > 49 else [])


def tiers_blocks(portfolio: Portfolio) -> list[Block]:
    if not portfolio.account_count:
        return [section("You have no accounts yet.")]
    lines: list[str] = []
    for tier, accounts in portfolio.tiers.items():
        lines.append(f"*{TIER_TITLES.get(tier, tier)}* ({len(accounts)})")
        lines += [f"• {escape(a.name)} · {pct(a.completeness)} complete" for a in accounts]
    blocks = _lines_sections(lines)
    return blocks[:49] + ([context("… more than fits here; see the Home tab.")] if len(blocks) > 49 else [])


def dimension_option(dim: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": dim.capitalize()}, "value": dim}


def note_confirm_blocks(note_id: str, account: str, text: str, dimension: str, matched: list[str]) -> list[Block]:
    why = f" (from “{'”, “'.join(matched[:3])}”)" if matched else ""
    quote = "\n".join("> " + line for line in escape(text).splitlines()) or ">"
    return [
        section(f"Save this note to *{escape(account)}*?\n{quote}"[:3000]),
        {"type": "section", "block_id": f"{NOTE_BLOCK}:{note_id}",
         "text": {"type": "mrkdwn", "text": f"Dimension{escape(why)}:"},
         "accessory": {"type": "static_select", "action_id": NOTE_DIMENSION,
                       "initial_option": dimension_option(dimension),
                       "options": [dimension_option(d) for d in DIMENSIONS]}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": NOTE_SAVE, "style": "primary", "value": note_id,
             "text": {"type": "plain_text", "text": "Save note"}},
            {"type": "button", "action_id": NOTE_CANCEL, "value": note_id,
             "text": {"type": "plain_text", "text": "Cancel"}},
        ]},
    ]


# ------------------------------------------------------------------ App Home


def _capped(title: str, lines: list[str], limit: int = 10) -> list[Block]:
    if not lines:
        return []
    more = [f"_…and {len(lines) - limit} more_"] if len(lines) > limit else []
    return _lines_sections([title, *lines[:limit], *more])


def home_view(portfolio: Portfolio, owner_label: OwnerLabel, page: int = 0,
              per_page: int = HOME_PAGE_ACCOUNTS) -> dict[str, Any]:
    """The Home tab: on page 0 the summary sections, then the accounts by tier, `per_page` accounts a page."""
    accounts = [(tier, a) for tier, members in portfolio.tiers.items() for a in members]
    pages = max(1, -(-len(accounts) // per_page))
    page = min(max(0, page), pages - 1)
    blocks: list[Block] = [header("My portfolio"),
                           context(f"{portfolio.account_count} accounts · as of {portfolio.today.isoformat()}")]
    if accounts:  # Edit on the Home tab: one select, so the account lines keep within Slack's 100 blocks
        names = sorted({(a.name, a.account_id) for _, a in accounts}, key=lambda x: x[0].casefold())[:100]
        blocks.append({"type": "actions", "block_id": HOME_EDIT_SELECT, "elements": [{
            "type": "static_select", "action_id": HOME_EDIT_SELECT,
            "placeholder": {"type": "plain_text", "text": "✏️ Edit an account…", "emoji": True},
            "options": [{"text": {"type": "plain_text", "text": name[:75]}, "value": aid} for name, aid in names]}]})
    if page == 0:
        blocks += _capped("*📅 Next key dates*", [date_line(u) for u in portfolio.upcoming])
        blocks += _capped("*⏰ Overdue for contact*", [
            f"• *{escape(o.account)}* ({o.tier}): "
            + (f"last contact {o.days_since} days ago" if o.days_since is not None else "no contact on record")
            + f", cadence {o.cadence_days} days" + (" · escalated" if o.escalate else "")
            for o in portfolio.overdue])
        blocks += _capped("*🧩 Profile gaps*", [
            f"• *{escape(a.name)}*: {pct(a.completeness)} complete"
            + (f"; missing {escape(', '.join(a.missing[:4]))}" if a.missing else "")
            + (f"; stale {', '.join(a.stale)}" if a.stale else "")
            for a in portfolio.gaps])
        from bot.render_edit import fill_in_buttons  # a Fill in button per missing required field

        for i, a in enumerate([a for a in portfolio.gaps if a.missing][:HOME_FILL_IN_ACCOUNTS]):
            blocks.append({"type": "actions", "block_id": f"kam_fill:{i}",
                           "elements": fill_in_buttons(a.account_id, a.missing, f"h{i}", a.name)})
        if not (portfolio.upcoming or portfolio.overdue or portfolio.gaps):
            blocks.append(section("Nothing needs your attention right now. 🎉"))
    blocks.append(divider())
    current = None
    for i, (tier, a) in enumerate(accounts[page * per_page:(page + 1) * per_page]):
        if tier != current:
            current = tier
            blocks.append(section(f"*{TIER_TITLES.get(tier, tier)}* ({len(portfolio.tiers[tier])})"))
        blocks.append({
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{escape(a.name)}* · {owner_label(a.owner)} · "
                                               f"{pct(a.completeness)} complete"},
            "accessory": {"type": "button", "action_id": f"{HOME_ACTION_ACCOUNT}_{i}", "value": a.account_id,
                          "text": {"type": "plain_text", "text": "Open"}},
        })
    if not accounts:
        blocks.append(section("No accounts are assigned to you yet."))
    if pages > 1:
        nav = []
        if page > 0:
            nav.append({"type": "button", "action_id": f"{HOME_ACTION_PAGE}_prev", "value": str(page - 1),
                        "text": {"type": "plain_text", "text": "◀ Previous"}})
        if page < pages - 1:
            nav.append({"type": "button", "action_id": f"{HOME_ACTION_PAGE}_next", "value": str(page + 1),
                        "text": {"type": "plain_text", "text": "Next ▶"}})
        blocks += [context(f"Page {page + 1} of {pages}"), {"type": "actions", "elements": nav}]
    return {"type": "home", "blocks": blocks[:100], "private_metadata": json.dumps({"page": page})}


def unknown_home_view() -> dict[str, Any]:
    return {"type": "home", "blocks": [header("kam-bot"), section(
        "I don't know you yet, so I can't show a portfolio. Ask your kam-bot admin to add your Slack account "
        "(or your email) to people.yaml.")]}


def account_modal(blocks: list[Block]) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": "Account"},
            "close": {"type": "plain_text", "text": "Close"}, "blocks": blocks[:100]}


def saved_note_blocks(account: str, dimension: str, text: str, on: dt.date) -> list[Block]:
    return [section(f"✅ Saved to *{escape(account)}* · {dimension.capitalize()} ({on.isoformat()}):\n> "
                    + escape(text)[:2800])]
