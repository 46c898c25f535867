"""Charts: valid PNGs of the announced size, every account named once and readable (Chinese glyphs present), no two
names overlapping, colour-blind-safe tier colours, movers drawn as arrows; the CLI writes them."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import update

from knowledge.db import MetricsRow
from skills.chart_fonts import font_families, needs_cjk
from skills.chart_labels import place_labels
from skills.charts import (
    MATRIX_SIZE,
    OKABE_ITO,
    TIER_STYLE,
    TRENDS_SIZE,
    draw_kpi_trends,
    draw_tier_matrix,
    kpi_trend_data,
    pixel_size,
    render_tier_matrix,
    tier_matrix_data,
)
from tests.conftest import ROOT, backend_env

pytestmark = pytest.mark.backend_agnostic  # run once, on the embedded pass

DAY = dt.date(2026, 11, 29)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature and the chunk's type."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture()
def reviewed(sample_kb):
    """The samples reviewed twice; before the second review three accounts lost their relationship strength, so
    some change tier (the movers)."""
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    settings, store, _ = sample_kb
    config = load_config(config_path(settings))
    review(store, config, by="test", today=DAY)
    with store.session() as s:
        s.execute(update(MetricsRow).where(MetricsRow.account_id.in_(
            ["borealis-beverage-group", "hanshan-packaging-co", "northwind-foods"]))
            .values(tech_cooperation=1, satisfaction=1, complaints=9))
    changes = review(store, config, by="test", today=DAY).changes
    assert changes
    return settings, store, config


def _overlapping(boxes: list) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


def test_tier_matrix_names_every_account_once_without_overlaps(reviewed, tmp_path):
    settings, store, config = reviewed
    data = tier_matrix_data(store, config)
    names = {p.name for p in data.points}
    assert len(names) == 16 and data.unscored == 0
    assert any(any(needs_cjk(c) for c in n) for n in names)  # the samples include Chinese names
    fig = draw_tier_matrix(data, font_cache=tmp_path)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text() in names]
    assert sorted(t.get_text() for t in labels) == sorted(names)  # every account exactly once
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert _overlapping(boxes) == []
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    # movers: one arrow each, from the previous review's position
    movers = [p for p in data.points if p.moved]
    assert movers and all(p.previous is not None for p in movers)
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation" and c.arrow_patch is not None]
    assert len(arrows) == len(movers)
    # Chinese names are set in a font that has their glyphs (not boxes)
    families = labels[0].get_fontfamily()
    assert families[0] == "DejaVu Sans" and families[1].startswith("KAM CJK")
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    cjk_file = font_manager.findfont(font_manager.FontProperties(family=families[1]), fallback_to_default=False)
    cmap = TTFont(cjk_file)["cmap"].getBestCmap()
    assert all(ord(c) in cmap for n in names for c in n if needs_cjk(c))


def test_tier_matrix_png_size_and_colours(reviewed, tmp_path):
    settings, store, config = reviewed
    png = render_tier_matrix(tier_matrix_data(store, config), font_cache=tmp_path)
    assert png_size(png) == pixel_size(MATRIX_SIZE) == (1100, 850)
    assert 20_000 < len(png) < 2_000_000
    # tiers differ by colour (Okabe-Ito, safe for colour-blind readers) and by marker shape
    assert {c for c, _, _ in TIER_STYLE.values()} <= set(OKABE_ITO)
    assert len({m for _, m, _ in TIER_STYLE.values()}) == len(TIER_STYLE)


def test_labels_in_a_crowd_still_do_not_overlap():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(0.35, 0.65, 40), rng.uniform(0.35, 0.65, 40)  # 40 points in the middle ninth
    fig, ax = plt.subplots(figsize=MATRIX_SIZE, dpi=100)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.canvas.draw()
    placed = place_labels(ax, xs, ys, [f"Account number {i}" for i in range(40)])
    renderer = fig.canvas.get_renderer()
    assert not any(p.overlaps or p.on_points for p in placed)
    assert _overlapping([p.text.get_window_extent(renderer) for p in placed]) == []
    plt.close(fig)


def test_names_over_thousands_of_points_cover_points_but_never_each_other(tmp_path):
    from skills.charts import MAX_MATRIX_LABELS, MatrixData, MatrixPoint

    rng = np.random.default_rng(3)
    tiers = list(TIER_STYLE)
    points = [MatrixPoint(f"a{i}", f"Account {i}" if i % 3 else f"客户公司 {i}", tiers[i % 4], float(rng.random()),
                          float(rng.random())) for i in range(3000)]
    fig = draw_tier_matrix(MatrixData(points, 0.5, 0.5, None), font_cache=tmp_path)
    names = {p.name for p in points}
    labels = [t for t in fig.axes[0].texts if t.get_text() in names]
    assert len(labels) == MAX_MATRIX_LABELS  # the rest are points; a note says so
    assert any("Names shown for 80 of 3000 accounts" in t.get_text() for t in fig.texts)
    renderer = fig.canvas.get_renderer()
    assert _overlapping([t.get_window_extent(renderer) for t in labels]) == []


def test_kpi_trends_one_panel_per_kpi_and_a_line_per_rep(reviewed, tmp_path):
    settings, store, _ = reviewed
    data = kpi_trend_data(store, settings, end=DAY, manager="mia@example.com")
    assert len(data.weeks) == 12 and data.weeks[-1] == DAY
    assert sorted(data.series) == ["Alice Chen", "Bob Miller", "Carol Schneider", "Dave Thompson"]
    fig = draw_kpi_trends(data, font_cache=tmp_path)
    assert len(fig.axes) == 6
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [*data.series, "Team (pooled)"]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    assert png_size(buf.getvalue()) == pixel_size(TRENDS_SIZE)


def test_font_families_only_build_a_cjk_font_when_needed(tmp_path):
    assert font_families(["Acme Industrial", "Café Müller"], tmp_path) == ["DejaVu Sans"]
    fams = font_families(["寒山包装"], tmp_path)
    assert fams[0] == "DejaVu Sans" and fams[1].startswith("KAM CJK")
    assert len(list(tmp_path.glob("kam-cjk-*.otf"))) == 1
    assert font_families(["包装寒山"], tmp_path) == fams  # the same characters: the cached font


def test_cli_writes_the_tier_matrix(reviewed, tmp_path):
    settings, _, _ = reviewed
    env = {**os.environ, "KAM_HOME": str(settings.kam_home), "COLUMNS": "200", **backend_env(settings.kam_home)}
    target = tmp_path / "matrix.png"
    out = subprocess.run([sys.executable, "-m", "cli.main", "tiers", "--chart", str(target), "--json"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert png_size(target.read_bytes()) == (1100, 850)
    assert "tier matrix of 16 accounts written" in out.stderr
    assert len(json.loads(out.stdout)) == 16  # --json output unchanged by the chart
