"""Templated news articles about the simulated assets, in NewsAPI's shape (docs/simulator.md).

A few articles per UTC day (:data:`NEWS_TEMPLATES`, :data:`EVENT_TEMPLATES`): positive on up
days, negative on down days and de-pegs/markdowns, neutral otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipelines.contracts.reference import Asset
from pipelines.ingestion.simulated.grid import DAY, BarGrid, iso_z
from pipelines.ingestion.simulated.onchain import DailyView
from pipelines.ingestion.simulated.params import price_params
from pipelines.ingestion.simulated.prices import PathEvent
from pipelines.ingestion.simulated.streams import keyed_rng

Tone = Literal["positive", "negative", "neutral"]
#: Headline templates by tone; ``{name}``, ``{symbol}``, ``{issuer}``, ``{pct}``, ``{price}``.
NEWS_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "positive": (
        "{name} ({symbol}) rallies {pct} as inflows accelerate",
        "{symbol} climbs {pct}; analysts cite strong on-chain demand",
        "Institutional appetite lifts {name} to ${price}",
        "{issuer} reports record subscriptions to {name}",
        "{symbol} holder count surges as tokenized markets expand",
    ),
    "negative": (
        "{name} ({symbol}) slides {pct} amid broad risk-off selling",
        "{symbol} drops {pct} as redemptions mount",
        "Liquidity concerns weigh on {name}; price falls to ${price}",
        "{symbol} under pressure after {issuer} discloses outflows",
        "Regulators question disclosures behind {name} ({symbol})",
    ),
    "neutral": (
        "{name} ({symbol}) trades flat near ${price}",
        "{issuer} publishes monthly attestation for {name}",
        "What {symbol}'s latest on-chain data says about tokenized assets",
        "{name} steady as markets await the Fed's next decision",
        "{symbol} integrates with another lending protocol",
    ),
}
#: Headlines for the simulation's own events, with their tone.
EVENT_TEMPLATES: dict[str, tuple[Tone, str]] = {
    "depeg": ("negative", "{symbol} loses its dollar peg, touching ${price}"),
    "markdown": ("negative", "{issuer} marks down loans in the {name} pool"),
    "jump_down": ("negative", "{name} ({symbol}) plunges {pct} in sudden sell-off"),
    "jump_up": ("positive", "{name} ({symbol}) spikes {pct} as shorts are squeezed"),
    "repricing_down": ("negative", "{name} ({symbol}) re-priced {pct} lower after appraisal"),
    "repricing_up": ("positive", "{name} ({symbol}) re-priced {pct} higher after appraisal"),
}
_TONE_PHRASES: dict[Tone, str] = {
    "positive": "drew strong buying interest",
    "negative": "came under selling pressure",
    "neutral": "saw routine trading",
}
NEWS_OUTLETS = ("Ledger Street Journal", "Token Times", "RWA Monitor", "Chain Ledger Daily",
                "Simulated Wire")  # fmt: skip
NEWS_AUTHORS = ("A. Rivera", "J. Chen", "M. Okafor", "S. Lindqvist", None)


@dataclass(frozen=True, slots=True)
class AssetDay:
    """What the news desk knows about an asset on a day."""

    asset: Asset
    log_return: float
    z: float  # return in units of the asset's typical daily move
    price: float  # the day's close, or the trough of a de-peg
    event: str | None  # an EVENT_TEMPLATES key


def news_articles(seed: int, day: dt.date, desk: list[AssetDay]) -> list[dict[str, Any]]:
    """A few articles about the day's assets, newest first, as NewsAPI lists them."""
    if not desk:
        return []
    rng = keyed_rng(seed, "news", day.isoformat())
    count = 1 + int(rng.poisson(3.0))
    # Big moves and events make the news more often.
    weights = np.array(
        [1.0 + 4.0 * min(abs(a.z), 5.0) + 10.0 * (a.event is not None) for a in desk]
    )
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    articles = []
    for number in range(count):
        pick = desk[int(rng.choice(len(desk), p=weights / weights.sum()))]
        tone, template = _headline(rng, pick)
        published = midnight + dt.timedelta(seconds=int(rng.integers(0, 86_400)))
        articles.append(_article(rng, pick, tone, template, published, number))
    return sorted(articles, key=lambda a: (a["publishedAt"], a["url"]), reverse=True)


def _headline(rng: np.random.Generator, day: AssetDay) -> tuple[Tone, str]:
    if day.event is not None and rng.random() < 0.8:
        return EVENT_TEMPLATES[day.event]
    tones: tuple[Tone, Tone, Tone] = ("positive", "negative", "neutral")
    if day.z > 1.5:
        probs = (0.7, 0.1, 0.2)
    elif day.z < -1.5:
        probs = (0.1, 0.7, 0.2)
    else:
        probs = (0.3, 0.25, 0.45)
    tone = tones[int(rng.choice(3, p=probs))]
    options = NEWS_TEMPLATES[tone]
    return tone, options[int(rng.integers(0, len(options)))]


def _article(
    rng: np.random.Generator,
    day: AssetDay,
    tone: Tone,
    template: str,
    published: dt.datetime,
    number: int,
) -> dict[str, Any]:
    asset = day.asset
    title = template.format(
        name=asset.name,
        symbol=asset.symbol,
        issuer=asset.issuer_name or "Its issuer",
        pct=f"{abs(math.expm1(day.log_return)) * 100:.1f}%",
        price=f"{day.price:,.4f}" if day.price < 10 else f"{day.price:,.2f}",
    )
    kind = asset.asset_class.replace("_", " ")
    description = (
        f"{asset.name} ({asset.symbol}), a {kind} token, {_TONE_PHRASES[tone]} on "
        f"{published:%B} {published.day}."
    )
    body = (
        f"{description} Traders pointed to fund flows, on-chain liquidity and the latest reserve "
        f"disclosures. {asset.issuer_name or 'The issuer'} did not comment on market moves. "
        "This article was generated by a simulator and describes no real event."
    )
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:60]
    return {
        "source": {"id": None, "name": NEWS_OUTLETS[int(rng.integers(0, len(NEWS_OUTLETS)))]},
        "author": NEWS_AUTHORS[int(rng.integers(0, len(NEWS_AUTHORS)))],
        "title": title,
        "description": description,
        "url": f"https://news.example.com/{published.date().isoformat()}/{slug}-{number}",
        "urlToImage": None,
        "publishedAt": iso_z(published),
        # NewsAPI truncates content to 200 characters and says how much was cut.
        "content": f"{body[:200]}… [+{max(len(body) - 200, 0)} chars]",
    }


def asset_day(
    asset: Asset,
    path_events: tuple[PathEvent, ...],
    grid: BarGrid,
    view: DailyView,
    day_index: int,
) -> AssetDay:
    """What the news desk knows about ``asset`` on day ``day_index`` of the span."""
    params = price_params(asset)
    typical = (
        params.annual_vol / math.sqrt(365.0)
        if params.annual_vol
        else 2e-4 * max(params.noise_bps, 1.0)
    )
    log_return = float(view.log_return[day_index])
    day_start = dt.datetime.combine(view.days[day_index], dt.time(), tzinfo=dt.UTC)
    first, end = grid.index(day_start), grid.index(day_start + DAY)
    event, price = None, float(view.close[day_index])
    for path_event in path_events:
        kind, magnitude = path_event.kind, path_event.magnitude
        # Only moves big enough to be news; the last one of the day wins.
        if not first <= path_event.first_bar < end or (kind == "jump" and abs(magnitude) < 0.03):
            continue
        if kind in ("depeg", "markdown"):
            event = kind
        else:
            event = f"{kind}_{'up' if magnitude > 0 else 'down'}"
        if kind == "depeg":
            price = params.start_price * (1.0 - magnitude)
    return AssetDay(asset, log_return, log_return / typical, price, event)
