"""The activity page's picture: recorded requests and refusals per day, as an inline SVG's geometry.

Drawn by the page itself (no script, no CDN): this module turns the per-day counts
(:func:`~scim_plugin.storage.activity.per_day`) into bars on a fixed ``viewBox`` that the template
writes out; CSS scales it to the page's width. Each day is one stacked bar: accepted requests below,
refusals on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from scim_plugin.storage.activity import DayCount

WIDTH = 600
HEIGHT = 160
#: Room under the bars for the day labels, and left of them for the scale.
BOTTOM = 20
LEFT = 30


@dataclass(frozen=True)
class Bar:
    day: str
    label: str | None  # shown under today and every seventh day before it
    x: float
    width: float
    accepted_y: float
    accepted_height: float
    refused_y: float
    refused_height: float
    requests: int
    refusals: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    requests: int
    refusals: int
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - BOTTOM
    left: int = LEFT

    @property
    def description(self) -> str:
        """The chart in one sentence (its SVG ``desc``)."""
        if not self.requests:
            return f"No SCIM requests were recorded in the last {len(self.bars)} days."
        busiest = max(self.bars, key=lambda bar: bar.requests)
        refused_days = [bar.day for bar in self.bars if bar.refusals]
        text = (
            f"{self.requests} SCIM requests recorded in the last {len(self.bars)} days, {self.refusals} of "
            f"them refused. Busiest day: {busiest.day} ({busiest.requests} requests)."
        )
        if refused_days:
            text += f" Last refusal on {refused_days[-1]}."
        return text


def draw(counts: list[DayCount]) -> Chart:
    peak = max((count.requests for count in counts), default=0)
    plot = HEIGHT - BOTTOM - 10  # 10: headroom above the tallest bar
    slot = (WIDTH - LEFT) / max(len(counts), 1)
    scale = plot / peak if peak else 0.0
    bars = []
    for index, count in enumerate(counts):
        refused = count.refusals * scale
        accepted = (count.requests - count.refusals) * scale
        baseline = HEIGHT - BOTTOM
        labelled = (len(counts) - 1 - index) % 7 == 0  # today, and every week back from it
        bars.append(
            Bar(
                day=count.day.isoformat(),
                label=count.day.strftime("%b %d") if labelled else None,
                x=round(LEFT + index * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                accepted_y=round(baseline - accepted, 2),
                accepted_height=round(accepted, 2),
                refused_y=round(baseline - accepted - refused, 2),
                refused_height=round(refused, 2),
                requests=count.requests,
                refusals=count.refusals,
            )
        )
    return Chart(
        bars=bars,
        peak=peak,
        requests=sum(count.requests for count in counts),
        refusals=sum(count.refusals for count in counts),
    )
