# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Charts for the report pages, as inline SVG: a page that holds them needs no script, no font and no network.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import html

from ansible.errors import AnsibleFilterError

WIDTH = 640
HEIGHT = 240
# Room for the value labels on the left, the x labels below and the title above.
LEFT = 64
RIGHT = 16
TOP = 32
BOTTOM = 40
COLORS = ("#1565c0", "#d32f2f", "#2e7d32", "#f9a825", "#6a1b9a", "#00838f")
FAMILY = "font-family=\"system-ui, 'Noto Sans CJK JP', 'Hiragino Sans', sans-serif\""
FONT = FAMILY + ' font-size="11"'


def _value(value):
    """A point's value, or None for a gap (no reading then)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"A chart's value must be a number or null, not {value!r}.") from None


def _shown(number):
    """A value as an axis label: 1234567 -> 1.2M, 0.25 -> 0.25."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            return f"{number / size:.3g}{suffix}"
    return f"{number:.3g}"


def _frame(title, unit, low, high):
    """The chart's outline: its title, the horizontal grid lines and their value labels."""
    parts = [f'<text x="{LEFT}" y="18" {FAMILY} font-size="13" font-weight="600">{html.escape(str(title))}'
             f'{html.escape(f" ({unit})") if unit else ""}</text>']
    for step in range(5):
        value = low + (high - low) * step / 4
        y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - step / 4)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT} fill="#555">{_shown(value)}</text>')
    return parts


def _svg(title, parts):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
            f'aria-label="{html.escape(str(title))}"><title>{html.escape(str(title))}</title>{"".join(parts)}</svg>')


def _range(values, low=None):
    """The value axis: from ``low`` (else 0, or the lowest value when it is negative) to a little above the
    highest."""
    low = min([0.0] + values) if low is None else min([float(low)] + values)
    high = max(values) if values else 1.0
    return low, (high + (high - low) * 0.1) if high > low else low + 1.0


def line_chart(series, title, unit="", labels=None, low=None):
    """Lines over time. ``series`` maps a name to its values, one per moment, null where there was no reading:
    a gap breaks the line instead of drawing a false slope across it. ``labels`` names the moments; ``low`` is
    where the value axis starts, for values that all sit far above zero (uptime near 100 %)."""
    if not isinstance(series, dict) or not series:
        raise AnsibleFilterError("line_chart takes a dictionary of named lists of values.")
    columns = max(len(values) for values in series.values())
    values = [_value(value) for points in series.values() for value in points]
    low, high = _range([value for value in values if value is not None], low)
    parts = _frame(title, unit, low, high)
    span_x = (WIDTH - LEFT - RIGHT) / max(columns - 1, 1)

    def y_of(value):
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low))

    for index, (name, points) in enumerate(series.items()):
        color = COLORS[index % len(COLORS)]
        segment = []
        for column, value in enumerate([_value(point) for point in points] + [None]):
            if value is None:
                if len(segment) > 1:
                    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>')
                elif segment:
                    x, y = segment[0].split(",")
                    parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>')
                segment = []
            else:
                segment.append(f"{LEFT + column * span_x:.1f},{y_of(value):.1f}")
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{18 + 13 * index}" text-anchor="end" {FONT} fill="{color}">'
                     f'{html.escape(str(name))}</text>')
    for column, label in enumerate(labels or []):
        # First, middle and last labels: enough to read the time axis, never overlapping.
        if column in (0, (columns - 1) // 2, columns - 1):
            anchor = "start" if column == 0 else "end" if column == columns - 1 else "middle"
            parts.append(f'<text x="{LEFT + column * span_x:.1f}" y="{HEIGHT - 14}" text-anchor="{anchor}" {FONT} '
                         f'fill="#555">{html.escape(str(label))}</text>')
    return _svg(title, parts)


def bar_chart(bars, title, unit=""):
    """One bar per label, for counts such as incidents by severity. ``bars`` maps labels to values."""
    if not isinstance(bars, dict) or not bars:
        raise AnsibleFilterError("bar_chart takes a dictionary of labels and values.")
    values = [_value(value) or 0.0 for value in bars.values()]
    low, high = _range(values)
    parts = _frame(title, unit, low, high)
    slot = (WIDTH - LEFT - RIGHT) / len(values)
    for index, (label, value) in enumerate(zip(bars, values)):
        top = TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low))
        base = TOP + (HEIGHT - TOP - BOTTOM) * (1 - (0 - low) / (high - low))
        x = LEFT + slot * index + slot * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{min(top, base):.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{abs(base - top):.1f}" fill="{COLORS[index % len(COLORS)]}"/>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{min(top, base) - 4:.1f}" text-anchor="middle" {FONT}>'
                     f'{_shown(value)}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 14}" text-anchor="middle" {FONT} fill="#555">'
                     f'{html.escape(str(label))}</text>')
    return _svg(title, parts)


class FilterModule:
    def filters(self):
        return {"line_chart": line_chart, "bar_chart": bar_chart}
