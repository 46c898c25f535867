"""App Home "My portfolio": published on app_home_opened, paginated with buttons; "Open" shows an account modal."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.handlers_messages import dedupe_events, handle_event
from bot.render_views import (
    HOME_ACTION_ACCOUNT,
    HOME_ACTION_PAGE,
    account_blocks,
    account_modal,
    home_view,
    unknown_home_view,
)
from bot.runtime import BotContext
from knowledge.profile import Person
from knowledge.quality import quality
from skills.portfolio import current_tier_map, my_portfolio

log = logging.getLogger("kam.bot")


def publish_home(ctx: BotContext, user_id: str, page: int = 0) -> dict[str, Any]:
    """Build and publish the viewer's Home tab; returns the view sent."""
    person = ctx.people.person(user_id)
    if person is None:
        view = unknown_home_view()
    else:
        portfolio = my_portfolio(ctx.store, ctx.settings, person, ctx.day())
        view = home_view(portfolio, ctx.owner_label, page)
        if page == 0:
            _add_kpis(ctx, person, view)
            # the handover button and lifetime values (bot/handlers_handover.py), under the title
            from bot.handlers_handover import home_blocks

            ids = [a.account_id for members in portfolio.tiers.values() for a in members]
            extra = home_blocks(ctx, person, ids)[:max(0, 100 - len(view["blocks"]))]  # Slack's 100 blocks
            view["blocks"] = view["blocks"][:2] + extra + view["blocks"][2:]
    ctx.client.views_publish(user_id=user_id, view=view)
    return view


def _add_kpis(ctx: BotContext, person: Person, view: dict[str, Any]) -> None:
    """The KPI section (a manager's team, else the rep's own) with its trend chart, under the Home tab's header."""
    from bot.kpi_slack import home_kpi_blocks

    try:
        extra = home_kpi_blocks(ctx.store, ctx.settings, ctx.client, person, ctx.day())
    except Exception:  # the portfolio is still worth showing without KPIs
        log.exception("KPIs for %s's Home tab", person.email)
        return
    if extra and len(view["blocks"]) + len(extra) <= 100:
        view["blocks"][2:2] = extra


def register(app: App, ctx: BotContext) -> None:
    @app.event("app_home_opened", middleware=[dedupe_events(ctx)])
    def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            ctx.event_done(body)
            return
        ctx.later(lambda _attempt: handle_event(ctx, body, lambda: publish_home(ctx, event["user"])), body=body)

    @app.action(re.compile(rf"^{HOME_ACTION_PAGE}"))
    def on_page(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        try:
            page = int(action.get("value") or 0)
        except ValueError:
            page = 0
        publish_home(ctx, body["user"]["id"], page)

    @app.action(re.compile(rf"^{HOME_ACTION_ACCOUNT}"))
    def on_open_account(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        person = ctx.people.person(body["user"]["id"])
        account_id = action.get("value") or ""
        visible = ctx.store.visible_account_ids(person) if person else set()
        if person is None or (visible is not None and account_id not in visible):
            return  # the Home tab only offers visible accounts; a forged click gets nothing
        profile = ctx.store.load_profile(account_id)
        if profile is None:
            return
        day = ctx.day()
        q = quality(profile, ctx.settings.kam_required_fields, day, ctx.settings.kam_stale_days)
        tier = current_tier_map(ctx.store, day).get(account_id)
        blocks = account_blocks(profile, q, tier, ctx.owner_label, max_blocks=100, account_id=account_id)
        ctx.client.views_open(trigger_id=body["trigger_id"], view=account_modal(blocks))
