"""The plain-language grammar (``grammar.lark``) and the transformer that turns its parse
tree into the fields of a :class:`~api.alerts.rules.RuleSpec` (plain dicts: the schema then
validates them like any request body).

The grammar file holds the sentence structure; the asset and class words are filled in here
from the reference data (:mod:`api.alerts.vocabulary`), and every literal is made
case-insensitive, so the file stays readable and the words stay in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Transformer

from api.alerts.rules import ChannelType, ConditionKind, Move, NavSide
from api.alerts.vocabulary import alternation, vocabulary

MINUTES = {"MINUTE": 1, "HOUR": 60, "DAY": 24 * 60, "WEEK": 7 * 24 * 60, "MONTH": 30 * 24 * 60}
DAY_MINUTES = MINUTES["DAY"]
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9}
_SCALES["billion"] = 1e9

# A /regex/ (kept as it is) or a "literal" (made case-insensitive).
_LITERAL = re.compile(r'(/(?:\\.|[^/\\\n])+/[a-z]*)|"((?:\\.|[^"\\])*)"(i?)')


class TextError(ValueError):
    """The sentence parsed, but what it says cannot be a rule (e.g. sentiment *above* a
    level). ``part`` names the words at fault."""

    def __init__(self, message: str, part: str) -> None:
        super().__init__(message)
        self.part = part


def _insensitive(line: str) -> str:
    if line.lstrip().startswith("//"):
        return line
    return _LITERAL.sub(lambda m: m.group(1) or f'"{m.group(2)}"i', line)


def grammar_text() -> str:
    """The grammar with the vocabulary's terminals appended."""
    source = (files("api.alerts") / "grammar.lark").read_text(encoding="utf-8")
    words = vocabulary()
    assets = alternation(words.assets).replace("/", r"\/")
    classes = alternation(words.classes).replace("/", r"\/")
    body = "\n".join(_insensitive(line) for line in source.splitlines())
    return f"{body}\nASSET: /{assets}/i\nCLASS: /{classes}/i\n"


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The parser, built once per process (building it takes a few tens of ms)."""
    return Lark(grammar_text(), parser="earley", lexer="dynamic", ambiguity="resolve")


# --- values the transformer passes up ------------------------------------------------------


@dataclass(frozen=True)
class Pct:
    value: float


@dataclass(frozen=True)
class Bps:
    value: float


@dataclass(frozen=True)
class Level:
    direction: str
    value: Any


@dataclass(frozen=True)
class Modifier:
    what: str
    value: Any = None


@dataclass
class Draft:
    """What the sentence said, before the schema validates it."""

    target: dict[str, Any] | None = None
    condition: dict[str, Any] | None = None
    channels: list[dict[str, str]] = field(default_factory=list)
    incomplete: list[ChannelType] = field(default_factory=list)
    hold_minutes: int | None = None
    cooldown_minutes: int | None = None

    def body(self) -> dict[str, Any]:
        """The request body of the rule (fields the sentence left out keep their defaults)."""
        body: dict[str, Any] = {
            "target": self.target,
            "condition": self.condition,
            "channels": self.channels,
        }
        if self.hold_minutes is not None:
            body["hold_minutes"] = self.hold_minutes
        if self.cooldown_minutes is not None:
            body["cooldown_minutes"] = self.cooldown_minutes
        return body


def number(token: Token) -> float:
    return float(str(token).replace("$", "").replace(",", ""))


def _bps(value: Pct | Bps) -> float:
    return value.value * 100 if isinstance(value, Pct) else value.value


def _pct(value: Pct | Bps) -> float:
    return value.value if isinstance(value, Pct) else value.value / 100


def _days(minutes: int, what: str) -> int:
    if minutes < DAY_MINUTES or minutes % DAY_MINUTES:
        raise TextError(
            f"{what} is measured daily: give the window in days (e.g. 'over 7 days')", "window"
        )
    return minutes // DAY_MINUTES


class RuleTransformer(Transformer[Token, Draft]):
    """Parse tree → :class:`Draft`. Each method is named after the grammar rule (or alias)
    it handles; anonymous words are already filtered out of ``items``."""

    # --- targets and values
    def asset(self, items: list[Token]) -> dict[str, Any]:
        return {"kind": "asset", "asset_id": vocabulary().asset_id(str(items[0]))}

    def asset_class(self, items: list[Token]) -> dict[str, Any]:
        return {"kind": "asset_class", "asset_class": vocabulary().asset_class(str(items[0]))}

    def amount(self, items: list[Token]) -> float:
        scale = _SCALES[str(items[1]).lower()] if len(items) > 1 else 1.0
        return number(items[0]) * scale

    def negative_amount(self, items: list[Token]) -> float:
        return -number(items[0])

    def cents(self, items: list[Token]) -> float:
        return number(items[0]) / 100

    def percent(self, items: list[Token]) -> Pct:
        return Pct(number(items[0]))

    def negative_percent(self, items: list[Token]) -> Pct:
        return Pct(-number(items[0]))

    def bps(self, items: list[Token]) -> Bps:
        return Bps(number(items[0]))

    def unit(self, items: list[Token]) -> int:
        return MINUTES[items[0].type]

    def one_unit(self, items: list[int]) -> int:
        return items[0]

    def units(self, items: list[Any]) -> int:
        count, minutes = items
        return round(number(count) * int(minutes))

    def half_hour(self, _items: list[Any]) -> int:
        return 30

    def window(self, items: list[int]) -> int:
        return items[0]

    def above(self, items: list[Any]) -> Level:
        return Level("above", items[0])

    def below(self, items: list[Any]) -> Level:
        return Level("below", items[0])

    def up(self, _items: list[Any]) -> Move:
        return Move.UP

    def down(self, _items: list[Any]) -> Move:
        return Move.DOWN

    def either(self, _items: list[Any]) -> Any:
        return Move.EITHER

    def change(self, items: list[Any]) -> dict[str, Any]:
        move, pct, minutes = items
        return {"move": move.value, "pct": _pct(pct), "minutes": minutes}

    # --- conditions: (target, condition)
    @staticmethod
    def _level(kind: ConditionKind, items: list[Any]) -> Draft:
        target, level = items
        return Draft(target, {"kind": kind, "direction": level.direction, "level": level.value})

    def price_clause(self, items: list[Any]) -> Draft:
        return self._level(ConditionKind.PRICE, items)

    def move_clause(self, items: list[Any]) -> Draft:
        target, change = items
        condition = {"kind": ConditionKind.PCT_MOVE, "pct": change["pct"], "move": change["move"]}
        return Draft(target, condition | {"window_minutes": change["minutes"]})

    def peg_clause(self, items: list[Any]) -> Draft:
        target, deviation = items
        return Draft(
            target, {"kind": ConditionKind.PEG_DEVIATION, "threshold_bps": _bps(deviation)}
        )

    def premium(self, _items: list[Any]) -> NavSide:
        return NavSide.PREMIUM

    def discount(self, _items: list[Any]) -> NavSide:
        return NavSide.DISCOUNT

    def nav_clause(self, items: list[Any]) -> Draft:
        # "BUIDL's premium …" or "the premium of BUIDL …": the target and side in any order.
        target = next(item for item in items if isinstance(item, dict))
        side, deviation = (item for item in items if not isinstance(item, dict))
        condition = {"kind": ConditionKind.NAV_PREMIUM, "side": NavSide(side.value)}
        return Draft(target, condition | {"threshold_bps": _bps(deviation)})

    def nav_either(self, items: list[Any]) -> Draft:
        target, deviation = items
        return self.nav_clause([target, NavSide.EITHER, deviation])

    def risk_clause(self, items: list[Any]) -> Draft:
        return self._level(ConditionKind.RISK_SCORE, items)

    def sentiment_clause(self, items: list[Any]) -> Draft:
        target, level = items
        if level.direction != "below":
            raise TextError(
                "sentiment alerts watch daily sentiment falling below a level, not above",
                f"{level.direction} {level.value:g}",
            )
        return Draft(target, {"kind": ConditionKind.SENTIMENT_BELOW, "level": level.value})

    def sentiment_negative(self, items: list[Any]) -> Draft:
        return Draft(items[0], {"kind": ConditionKind.SENTIMENT_BELOW, "level": 0.0})

    def forecast_clause(self, items: list[Any]) -> Draft:
        target, level = items
        condition = {"kind": ConditionKind.FORECAST_RETURN, "direction": level.direction}
        return Draft(target, condition | {"level_pct": _pct(level.value)})

    def fc_drop(self, items: list[Pct]) -> Level:
        return Level("below", Pct(-abs(items[0].value)))

    def fc_gain(self, items: list[Pct]) -> Level:
        return Level("above", Pct(abs(items[0].value)))

    def _onchain(self, items: list[Any], kind: ConditionKind, what: str) -> Draft:
        target, change = items
        condition = {"kind": kind, "pct": change["pct"], "move": change["move"]}
        return Draft(target, condition | {"window_days": _days(change["minutes"], what)})

    def supply_clause(self, items: list[Any]) -> Draft:
        return self._onchain(items, ConditionKind.SUPPLY_CHANGE, "on-chain supply")

    def holders_clause(self, items: list[Any]) -> Draft:
        return self._onchain(items, ConditionKind.HOLDERS_CHANGE, "the number of holders")

    # --- modifiers
    def telegram(self, items: list[Token]) -> Modifier:
        return Modifier(ChannelType.TELEGRAM, str(items[0]) if items else None)

    def email(self, items: list[Token]) -> Modifier:
        return Modifier(ChannelType.EMAIL, str(items[0]) if items else None)

    def webhook(self, items: list[Token]) -> Modifier:
        return Modifier(ChannelType.WEBHOOK, str(items[0]).rstrip(".!?)") if items else None)

    def ask_email(self, _items: list[Any]) -> Modifier:
        return Modifier(ChannelType.EMAIL)

    def ask_telegram(self, _items: list[Any]) -> Modifier:
        return Modifier(ChannelType.TELEGRAM)

    def ask(self, _items: list[Any]) -> None:
        return None

    def hold(self, items: list[int]) -> Modifier:
        return Modifier("hold", items[0])

    def cooldown(self, items: list[int]) -> Modifier:
        return Modifier("cooldown", items[0])

    def lead(self, items: list[Any]) -> list[Any]:
        return items

    def start(self, items: list[Any]) -> Draft:
        flat: list[Any] = []
        for item in items:
            flat.extend(item if isinstance(item, list) else [item])
        draft = next(item for item in flat if isinstance(item, Draft))
        for item in flat:
            if isinstance(item, Modifier):
                _apply(draft, item)
        return draft


#: The field of each channel type that names where it goes.
_ADDRESS = {
    ChannelType.TELEGRAM: "chat_id",
    ChannelType.EMAIL: "address",
    ChannelType.WEBHOOK: "url",
}


def _apply(draft: Draft, modifier: Modifier) -> None:
    if modifier.what == "hold":
        draft.hold_minutes = modifier.value
    elif modifier.what == "cooldown":
        draft.cooldown_minutes = modifier.value
    else:
        kind = ChannelType(modifier.what)
        if modifier.value is None:
            if kind not in draft.incomplete:
                draft.incomplete.append(kind)
            return
        channel = {"type": kind.value, _ADDRESS[kind]: modifier.value}
        if channel not in draft.channels:
            draft.channels.append(channel)
