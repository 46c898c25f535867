"""KPIs and their trend chart in Slack, end to end: signed requests to the real bot (App Home), the scheduler's
digest through the real Slack client; the chart travels by files.getUploadURLExternal, a POST of its bytes and
files.completeUploadExternal into the mock Slack, and is shown by an image block naming the file."""

from __future__ import annotations

import datetime as dt
import json
import struct
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.slack_notifier import SlackNotifier
from scheduler.sweep import run_digests
from skills.charts import MATRIX_SIZE, TRENDS_SIZE, pixel_size
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack, assert_valid_blocks, assert_valid_view
from tests.slack_harness import ALICE, Bot

MIA = "U0MIA00001"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def images(blocks: list[dict]) -> list[dict]:
    return [b for b in blocks if b.get("type") == "image"]


@pytest.fixture()
def reviewed(sample_kb):
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    settings, store, _ = sample_kb
    review(store, load_config(config_path(settings)), by="test")
    return sample_kb


def test_manager_home_shows_team_kpis_and_the_uploaded_chart(reviewed, bot: Bot, mock: MockSlack) -> None:
    mock.add_user(MIA, email="mia@example.com")
    bot.send(sr.event_body("app_home_opened", user=MIA))
    [pub] = mock.wait_for("views.publish", timeout=60)
    assert pub.response["ok"], pub.response
    view = pub.params["view"]
    assert_valid_view(view)
    text = json.dumps(view, ensure_ascii=False)
    assert "Team KPIs" in text and "Contact-cadence compliance" in text and "no cases yet" in text
    trends, matrix = images(view["blocks"])
    assert trends["title"]["text"].startswith("KPI trends") and matrix["title"]["text"] == "Tier matrix"
    methods = [c.method for c in mock.calls() if c.method in ("files.getUploadURLExternal", "upload",
                                                              "files.completeUploadExternal", "views.publish")]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"] * 2 + ["views.publish"]
    for image, size in ((trends, pixel_size(TRENDS_SIZE)), (matrix, pixel_size(MATRIX_SIZE))):
        file_id = image["slack_file"]["id"]
        announced = next(c for c in mock.calls("files.getUploadURLExternal") if c.response["file_id"] == file_id)
        data = mock.file_bytes(file_id)
        assert data is not None and int(announced.params["length"]) == len(data)
        assert png_size(data) == size  # a real PNG of the size the chart is drawn at
        assert mock.files[file_id]["completed"]

    bot.send(sr.event_body("app_home_opened", user=MIA))  # opened again the same day: the same files, no upload
    pubs = mock.wait_for("views.publish", 2, timeout=60)
    assert images(pubs[1].params["view"]["blocks"]) == [trends, matrix]
    assert len(mock.calls("files.getUploadURLExternal")) == 2


def test_rep_home_shows_their_own_kpis(reviewed, bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("app_home_opened", user=ALICE))
    [pub] = mock.wait_for("views.publish", timeout=60)
    assert pub.response["ok"], pub.response
    text = json.dumps(pub.params["view"], ensure_ascii=False)
    assert "My KPIs" in text and "Team KPIs" not in text and "4 accounts" in text
    assert "My portfolio" in text  # the portfolio is still there below
    trends, matrix = images(pub.params["view"]["blocks"])
    assert matrix["title"]["text"] == "Tier matrix" and mock.file_bytes(matrix["slack_file"]["id"])


def test_home_keeps_what_uploaded_when_an_upload_fails_and_retries_later(reviewed, bot: Bot,
                                                                         mock: MockSlack) -> None:
    mock.fail("files.getUploadURLExternal", "not_allowed_token_type")  # the first chart's upload is refused
    bot.send(sr.event_body("app_home_opened", user=ALICE))
    [pub] = mock.wait_for("views.publish", timeout=60)
    assert pub.response["ok"], pub.response
    assert "My KPIs" in json.dumps(pub.params["view"])
    [matrix] = images(pub.params["view"]["blocks"])  # the KPIs as text and the chart that did upload
    assert matrix["title"]["text"] == "Tier matrix"
    bot.send(sr.event_body("app_home_opened", user=ALICE))  # a partial set is not kept: tried again
    pubs = mock.wait_for("views.publish", 2, timeout=60)
    assert [i["title"]["text"] for i in images(pubs[1].params["view"]["blocks"])] == ["KPI trends, last 12 weeks",
                                                                                      "Tier matrix"]


def test_digest_carries_team_kpis_and_the_chart(reviewed) -> None:
    settings, store, _ = reviewed
    with MockSlack() as mock:
        mock.add_user(MIA, email="mia@example.com", tz="Asia/Singapore")
        notifier = SlackNotifier(settings, store, client=WebClient(token="xoxb-test", base_url=mock.base_url))
        monday = dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC)  # 10:00 in Singapore: mia's digest is due
        report = run_digests(store, settings, notifier, monday, only={"mia@example.com"})
        assert report.messages == 1 and not report.failed
        [post] = [c for c in mock.calls("chat.postMessage") if c.response.get("ok")]
        blocks = post.params["blocks"]
        assert_valid_blocks(blocks)
        text = json.dumps(blocks, ensure_ascii=False)
        assert "Team KPIs" in text and "Profile completeness" in text
        trends, matrix = images(blocks)
        assert png_size(mock.file_bytes(trends["slack_file"]["id"]) or b"") == pixel_size(TRENDS_SIZE)
        assert png_size(mock.file_bytes(matrix["slack_file"]["id"]) or b"") == pixel_size(MATRIX_SIZE)


def test_manifest_asks_for_the_upload_scope() -> None:
    from pathlib import Path

    manifest = json.loads((Path(__file__).resolve().parents[1] / "manifest.json").read_text())
    assert "files:write" in manifest["oauth_config"]["scopes"]["bot"]  # files.getUploadURLExternal needs it


def test_slash_kpis_answers_a_rep_and_a_manager_privately(reviewed, bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.slash_command_body(text="kpis", user_id=ALICE, response_url=mock.response_url()))
    [reply] = mock.wait_for("response_url", timeout=60)
    assert reply.params["response_type"] == "ephemeral"
    text = json.dumps(reply.params, ensure_ascii=False)
    assert "My KPIs" in text and "last 90 days" in text and "Contact-cadence compliance" in text
    assert_valid_blocks(reply.params["blocks"])

    mock.add_user(MIA, email="mia@example.com")
    bot.send(sr.slash_command_body(text="kpis 12w", user_id=MIA, response_url=mock.response_url()))
    replies = mock.wait_for("response_url", 2, timeout=60)
    text = json.dumps(replies[1].params, ensure_ascii=False)
    assert "Team KPIs" in text and "last 84 days" in text and "Per rep" in text
    assert all(name in text for name in ("Alice Chen", "Bob Miller", "Carol Schneider", "Dave Thompson"))
    assert_valid_blocks(replies[1].params["blocks"])

    bot.send(sr.slash_command_body(text="kpis forever", user_id=ALICE, response_url=mock.response_url()))
    replies = mock.wait_for("response_url", 3, timeout=60)
    assert "Usage: `/kam kpis [period]`" in replies[2].params["text"]
    assert not mock.calls("files.getUploadURLExternal")  # text only: the charts live on the Home tab


def test_slack_sim_saves_uploaded_charts_to_open() -> None:
    from bot.mock_slack import Call
    from bot.slack_sim import SlackSim

    sim = SlackSim("http://127.0.0.1:9", "secret", {"mia@example.com": MIA}).start()
    try:
        client = WebClient(token="xoxb-test", base_url=sim.mock.base_url)
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
        file_id = client.files_upload_v2(filename="m.png", content=png, title="Tier matrix")["file"]["id"]
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Team KPIs*"}},
                  {"type": "image", "slack_file": {"id": file_id}, "alt_text": "matrix",
                   "title": {"type": "plain_text", "text": "Tier matrix"}}]
        post = sim._post(Call("chat.postMessage", {"channel": "D1", "blocks": blocks}, {}, 0.0))
        line = post.text.splitlines()[-1]
        assert line.startswith("[image] Tier matrix: ")
        assert Path(line.split(": ", 1)[1]).read_bytes() == png
    finally:
        sim.stop()
