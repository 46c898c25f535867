"""Point labels that never overlap: each label takes the nearest free spot around its point.

Greedy candidate placement in display pixels: around each point, rings of candidate boxes at growing distances
and 16 directions; the first candidate inside the axes that touches no placed label and no marker wins (numpy
checks every candidate of a ring against every obstacle at once). A label pushed away from its point gets a thin
leader line. Labels are placed in priority order, so the ones that matter most sit closest to their points. In a
crowd of points a label may cover points (as few as possible), never another label while a free place is in reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RADII = (6, 12, 20, 30, 42, 56, 72, 90, 110, 135, 165, 200, 240, 290, 350, 420)  # pixels from point to label
DIRECTIONS = 16
PAD = 2.0  # pixels kept free around each label
LEADER_FROM = 14  # labels further than this from their point get a leader line


@dataclass
class Placed:
    text: Any  # matplotlib Text
    overlaps: bool  # overlaps another label: no spot free of labels was found within reach
    on_points: bool = False  # no spot free of points either: placed where it covers the fewest


def _overlap(cands: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    """(C,) overlap area of each candidate box (x0, y0, x1, y1) with all obstacle boxes."""
    if not len(obstacles):
        return np.zeros(len(cands))
    w = np.minimum(cands[:, None, 2], obstacles[None, :, 2]) - np.maximum(cands[:, None, 0], obstacles[None, :, 0])
    h = np.minimum(cands[:, None, 3], obstacles[None, :, 3]) - np.maximum(cands[:, None, 1], obstacles[None, :, 1])
    return (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=1)


def place_labels(ax: Any, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], *,
                 marker_px: float = 5.0, fontsize: float = 8.5, color: str = "#222222",
                 extra_obstacles: Sequence[tuple[float, float, float, float]] = ()) -> list[Placed]:
    """Draw `labels[i]` next to the data point (xs[i], ys[i]) of `ax`, in the order given, without overlaps."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    to_data = ax.transData.inverted().transform
    frame = ax.get_window_extent(renderer)
    points = to_px(np.column_stack([xs, ys])) if len(xs) else np.zeros((0, 2))
    obstacles = [np.array([[px - marker_px, py - marker_px, px + marker_px, py + marker_px] for px, py in points])
                 .reshape(-1, 4)]
    if extra_obstacles:
        obstacles.append(np.array(extra_obstacles, dtype=float).reshape(-1, 4))
    blocked = np.vstack(obstacles)  # markers and arrows: avoided where possible
    taken = np.zeros((0, 4))  # labels already placed: never overlapped while any place is free of them
    angles = np.linspace(0, 2 * np.pi, DIRECTIONS, endpoint=False)
    # right, left, up, down first: the usual reading positions
    angles = np.concatenate([[0, np.pi, np.pi / 2, 3 * np.pi / 2],
                             [a for a in angles if not np.isclose(a % (np.pi / 2), 0)]])
    out: list[Placed] = []
    for i, text in enumerate(labels):
        t = ax.text(xs[i], ys[i], text, fontsize=fontsize, color=color, ha="center", va="center", zorder=5)
        box = t.get_window_extent(renderer)
        w, h = box.width + 2 * PAD, box.height + 2 * PAD
        own = np.ones(len(blocked), dtype=bool)
        if i < len(points):
            own[i] = False  # a label may touch its own marker's pad
        best: tuple[float, float, int, np.ndarray] | None = None  # (label overlap, marker overlap, radius, box)
        chosen = None
        px, py = points[i]
        for r in RADII:
            cx = px + np.cos(angles) * (r + w / 2)
            cy = py + np.sin(angles) * (r + h / 2)
            cands = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            inside = ((cands[:, 0] >= frame.x0) & (cands[:, 2] <= frame.x1)
                      & (cands[:, 1] >= frame.y0) & (cands[:, 3] <= frame.y1))
            on_labels = _overlap(cands, taken)
            on_marks = _overlap(cands, blocked[own])
            free = np.flatnonzero(inside & (on_labels == 0) & (on_marks == 0))
            if len(free):
                chosen = (r, cands[free[0]])
                break
            order = np.lexsort((on_marks, on_labels))  # fewest label overlaps, then fewest marker overlaps
            for j in order:
                if inside[j]:
                    key = (float(on_labels[j]), float(on_marks[j]), r, cands[j])
                    if best is None or key[:2] < best[:2]:
                        best = key
                    break
        label_clash = chosen is None and (best is None or best[0] > 0)
        if chosen is None:
            r, cand = (best[2], best[3]) if best is not None else (0, np.array([px, py, px, py]))
        else:
            r, cand = chosen
        cxy = to_data([((cand[0] + cand[2]) / 2, (cand[1] + cand[3]) / 2)])[0]
        t.set_position((cxy[0], cxy[1]))
        if r >= LEADER_FROM:
            edge = (np.clip(px, cand[0] + PAD, cand[2] - PAD), np.clip(py, cand[1] + PAD, cand[3] - PAD))
            a, b = to_data([(px, py), edge])
            ax.plot([a[0], b[0]], [a[1], b[1]], color="#888888", lw=0.6, zorder=4)
        taken = np.vstack([taken, cand[None, :]])
        out.append(Placed(t, label_clash, chosen is None))
    return out
