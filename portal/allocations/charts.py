"""Server-rendered SVG charts (no JavaScript, no CDN). Each chart has a title and a description for screen
readers; pages show the same figures in a table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 260
LEFT = 70
BOTTOM = 40
TOP = 20
# Colours with at least 3:1 contrast against white (WCAG 2.1 non-text contrast).
PALETTE = ("#0b3d5c", "#b35900", "#2f6f3e", "#6a3d9a")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal | int | float]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude  # pragma: no cover - the loop always returns


def bar_chart(
    *, chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> SafeString:
    """Grouped bars: one group per label, one bar per series, with a y axis in GPU-hours and a legend."""
    top = _nice_max(max((float(v) for s in series for v in s.values), default=0.0))
    plot_w = WIDTH - LEFT - 10
    plot_h = HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    bars = []
    for g, label in enumerate(labels):
        for s, item in enumerate(series):
            value = float(item.values[g])
            h = plot_h * value / top
            x = LEFT + g * group_w + group_w * 0.1 + s * bar_w
            bars.append(
                (
                    f"{x:.1f}",
                    f"{TOP + plot_h - h:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    PALETTE[s % len(PALETTE)],
                    f"{item.name}, {label}: {value:,.0f}",
                )
            )
    ticks = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        ticks.append((f"{y:.1f}", f"{LEFT - 6}", f"{y + 4:.1f}", f"{value:,.0f}"))
    x_labels = [
        (f"{LEFT + g * group_w + group_w / 2:.1f}", f"{HEIGHT - BOTTOM + 16}", label) for g, label in enumerate(labels)
    ]
    legend = [
        (f"{LEFT + i * 160}", PALETTE[i % len(PALETTE)], f"{LEFT + i * 160 + 16}", item.name)
        for i, item in enumerate(series)
    ]
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-labelledby="{id}-title {id}-desc" class="chart">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        "{ticks}"
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#333"/>'
        "{bars}{xlabels}{legend}</svg>",
        w=WIDTH,
        h=HEIGHT + 20,
        id=chart_id,
        title=title,
        desc=description,
        left=LEFT,
        right=WIDTH - 10,
        base=f"{TOP + plot_h:.1f}",
        ticks=format_html_join(
            "",
            '<line x1="' + str(LEFT) + '" y1="{0}" x2="' + str(WIDTH - 10) + '" y2="{0}" stroke="#ddd"/>'
            '<text x="{1}" y="{2}" text-anchor="end" font-size="11">{3}</text>',
            ticks,
        ),
        bars=format_html_join(
            "", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>', bars
        ),
        xlabels=format_html_join("", '<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>', x_labels),
        legend=format_html_join(
            "",
            '<rect x="{}" y="' + str(HEIGHT + 2) + '" width="12" height="12" fill="{}"/>'
            '<text x="{}" y="' + str(HEIGHT + 12) + '" font-size="12">{}</text>',
            legend,
        ),
    )
