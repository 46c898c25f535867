"""The mock Slack Web API moved into the package (bot/mock_slack.py) for `kam slack-sim`; tests import it here."""

from bot.mock_slack import (  # noqa: F401 - re-exported for the tests
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    MockSlack,
    assert_valid_blocks,
    assert_valid_view,
    block_errors,
    parse_body,
    view_errors,
)
