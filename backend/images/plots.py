"""Small line plots drawn on the server as SVG (no plotting library in the page, nothing from a CDN).

Only numbers and fixed words reach the SVG text, so the markup needs no escaping beyond the labels,
which are escaped here.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 10, 34


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values between ``low`` and ``high``."""
    if not high > low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    return f"{value:.0e}" if magnitude >= 1e5 or magnitude < 1e-2 else f"{value:g}"


def line_svg(x: np.ndarray, y: np.ndarray, *, x_label: str, y_label: str, log_y: bool = True) -> str:
    """One curve with axes and ticks; NaN points (empty bins) break the line."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    shown = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
    if not shown.any():
        return (
            f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(y_label)}">'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no counts</text></svg>'
        )
    values = np.log10(np.where(shown, y, 1.0)) if log_y else y
    x0, x1 = float(x[shown].min()), float(x[shown].max())
    y0, y1 = float(values[shown].min()), float(values[shown].max())
    if y1 <= y0:
        y0, y1 = y0 - 1, y1 + 1
    if x1 <= x0:
        x1 = x0 + 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(value: float) -> float:
        return LEFT + (value - x0) / (x1 - x0) * inner_w

    def py(value: float) -> float:
        return TOP + (1 - (value - y0) / (y1 - y0)) * inner_h

    segments: list[str] = []
    current: list[str] = []
    for xi, vi, ok in zip(x, values, shown, strict=True):
        if ok:
            current.append(f"{px(xi):.1f},{py(vi):.1f}")
        elif current:
            segments.append(" ".join(current))
            current = []
    if current:
        segments.append(" ".join(current))
    parts = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(y_label)}" '
        f'font-size="10" font-family="sans-serif">',
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999"/>',
    ]
    for tick in _ticks(x0, x1):
        parts.append(
            f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{TOP + inner_h}" y2="{TOP + inner_h + 4}" '
            f'stroke="#999"/><text x="{px(tick):.1f}" y="{TOP + inner_h + 14}" text-anchor="middle">'
            f"{_label(tick)}</text>"
        )
    y_ticks = _ticks(math.floor(y0), math.ceil(y1)) if log_y else _ticks(y0, y1)
    for tick in y_ticks:
        if not y0 <= tick <= y1:
            continue
        text = _label(10**tick) if log_y else _label(tick)
        parts.append(
            f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#999"/>'
            f'<text x="{LEFT - 6}" y="{py(tick) + 3:.1f}" text-anchor="end">{text}</text>'
        )
    for points in segments:
        parts.append(f'<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="{points}"/>')
    parts.append(
        f'<text x="{LEFT + inner_w / 2}" y="{HEIGHT - 4}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="10" y="{TOP + inner_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 10 {TOP + inner_h / 2})">{escape(y_label)}</text></svg>'
    )
    return "".join(parts)
