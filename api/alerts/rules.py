"""The alert rule: the one typed contract that the API, the parser, the evaluation, the
notifications and the real-time push all read.

A rule is a *target* (one asset, or every asset of a class), a *condition* (a closed set of
kinds, each with exactly the parameters it needs: a discriminated union on ``kind``), the
*channels* it is delivered through, a cooldown, an optional "holds for N minutes" and an
active flag. Validation errors name the field (``condition.level``, ``target.asset_id``…);
the checks that join two fields (a peg alert on a non-stablecoin) are reported on
``condition``.

Units, fixed here so that every consumer reads a rule the same way:

* prices and levels in USD; percentages as percent (``5`` = 5 %), signed where a direction
  matters (a forecast return of ``-5`` is a 5 % drop);
* deviations from a peg or a NAV in basis points (``50`` = 0.5 %), always positive;
* windows of market moves in minutes (bars go down to 1 minute); windows of on-chain changes
  in days (on-chain metrics are daily);
* risk scores on the served 1-100 scale; daily sentiment on the served -1..1 scale.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from pipelines.contracts.reference import AssetClass
from pipelines.core.errors import NotFoundError
from pipelines.reference import get_reference_asset, load_assets

#: Classes whose assets publish a NAV, so a premium or discount to it can be measured.
NAV_CLASSES: frozenset[str] = frozenset(
    {"tokenized_treasury", "money_market_fund", "private_credit", "real_estate", "tokenized_gold"}
)
#: Classes with a peg (every stablecoin of the catalog is pegged to one US dollar).
PEGGED_CLASSES: frozenset[str] = frozenset({"stablecoin"})

#: Longest window of a market move (30 days) and of an on-chain change (a year).
MAX_MOVE_WINDOW_MINUTES = 30 * 24 * 60
MAX_ONCHAIN_WINDOW_DAYS = 365
#: Longest cooldown (a week) and "holds for" (a day).
MAX_COOLDOWN_MINUTES = 7 * 24 * 60
MAX_HOLD_MINUTES = 24 * 60
#: Channels one rule may declare.
MAX_CHANNELS = 5


class ConditionKind(StrEnum):
    """What a rule watches (the closed set; each kind is one schema below)."""

    PRICE = "price"
    PCT_MOVE = "pct_move"
    PEG_DEVIATION = "peg_deviation"
    NAV_PREMIUM = "nav_premium"
    RISK_SCORE = "risk_score"
    SENTIMENT_BELOW = "sentiment_below"
    FORECAST_RETURN = "forecast_return_7d"
    SUPPLY_CHANGE = "supply_change"
    HOLDERS_CHANGE = "holders_change"


class Direction(StrEnum):
    """Which side of a level fires: the value crosses above it, or below it."""

    ABOVE = "above"
    BELOW = "below"


class Move(StrEnum):
    """Which way a change must go to fire (``either``: its absolute size)."""

    UP = "up"
    DOWN = "down"
    EITHER = "either"


class NavSide(StrEnum):
    """Which deviation from NAV fires: a premium, a discount, or either."""

    PREMIUM = "premium"
    DISCOUNT = "discount"
    EITHER = "either"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Numbers are finite (JSON has no NaN, but Python callers could pass one).
Usd = Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]
Percent = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
Bps = Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]
MoveWindowMinutes = Annotated[int, Field(ge=1, le=MAX_MOVE_WINDOW_MINUTES)]
OnchainWindowDays = Annotated[int, Field(ge=1, le=MAX_ONCHAIN_WINDOW_DAYS)]


class PriceCondition(_Strict):
    """The price (last close, USD) is above / below ``level``."""

    kind: Literal[ConditionKind.PRICE]
    direction: Direction
    level: Usd


class PctMoveCondition(_Strict):
    """The price moved at least ``pct`` percent within the last ``window_minutes``."""

    kind: Literal[ConditionKind.PCT_MOVE]
    pct: Percent
    window_minutes: MoveWindowMinutes
    move: Move = Move.EITHER


class PegDeviationCondition(_Strict):
    """A stablecoin's price is at least ``threshold_bps`` away from its 1 USD peg."""

    kind: Literal[ConditionKind.PEG_DEVIATION]
    threshold_bps: Bps


class NavPremiumCondition(_Strict):
    """The market price is at least ``threshold_bps`` above (premium) / below (discount) the
    published NAV."""

    kind: Literal[ConditionKind.NAV_PREMIUM]
    side: NavSide
    threshold_bps: Bps


class RiskScoreCondition(_Strict):
    """The composite risk score (1-100) is above / below ``level``."""

    kind: Literal[ConditionKind.RISK_SCORE]
    direction: Direction
    level: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)]


class SentimentBelowCondition(_Strict):
    """The day's news sentiment (-1..1) is below ``level``."""

    kind: Literal[ConditionKind.SENTIMENT_BELOW]
    level: Annotated[float, Field(gt=-1, le=1, allow_inf_nan=False)]


class ForecastReturnCondition(_Strict):
    """The 7-day forecast implies a return (percent, signed) above / below ``level_pct``."""

    kind: Literal[ConditionKind.FORECAST_RETURN]
    direction: Direction
    level_pct: Annotated[float, Field(ge=-100, le=1000, allow_inf_nan=False)]


class _OnchainChange(_Strict):
    pct: Percent
    window_days: OnchainWindowDays
    move: Move = Move.EITHER


class SupplyChangeCondition(_OnchainChange):
    """The on-chain total supply changed at least ``pct`` percent over ``window_days``."""

    kind: Literal[ConditionKind.SUPPLY_CHANGE]


class HoldersChangeCondition(_OnchainChange):
    """The number of holders changed at least ``pct`` percent over ``window_days``."""

    kind: Literal[ConditionKind.HOLDERS_CHANGE]


AnyCondition = (
    PriceCondition
    | PctMoveCondition
    | PegDeviationCondition
    | NavPremiumCondition
    | RiskScoreCondition
    | SentimentBelowCondition
    | ForecastReturnCondition
    | SupplyChangeCondition
    | HoldersChangeCondition
)
Condition = Annotated[
    PriceCondition
    | PctMoveCondition
    | PegDeviationCondition
    | NavPremiumCondition
    | RiskScoreCondition
    | SentimentBelowCondition
    | ForecastReturnCondition
    | SupplyChangeCondition
    | HoldersChangeCondition,
    Field(discriminator="kind"),
]


# --- targets --------------------------------------------------------------------------------


#: The validation context of rules read back from storage: an asset the reference data no
#: longer lists (a release dropped it) does not make the user's stored rule unreadable; the
#: rule still lists and can be deleted, and evaluation skips it.
STORED: dict[str, bool] = {"stored": True}


def _is_stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


def asset_ids() -> list[str]:
    """The ids of the reference data's assets: the only ``asset_id`` a rule may name."""
    return [asset.asset_id for asset in load_assets()]


class AssetTarget(_Strict):
    """One asset of the reference data."""

    kind: Literal["asset"]
    asset_id: str = Field(
        description="An asset id as listed by GET /assets, e.g. 'usdc'.",
        examples=["usdc"],
        # The document lists the ids, so clients (and the fuzzing) know what is valid.
        json_schema_extra={"enum": list[JsonValue](asset_ids())},
    )

    @field_validator("asset_id")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        if value not in asset_ids() and not _is_stored(info):
            try:  # the reference data's own message names the closest ids
                get_reference_asset(value)
                message = f"asset ids are lower case: {value.lower()!r}"
            except NotFoundError as error:
                message = str(error)
            raise ValueError(message)
        return value


def _is_listed(target: AssetTarget) -> bool:
    """Whether the reference data still lists the target's asset (see :data:`STORED`)."""
    return target.asset_id in asset_ids()


class ClassTarget(_Strict):
    """Every asset of a class (e.g. every stablecoin), each evaluated on its own."""

    kind: Literal["asset_class"]
    asset_class: AssetClass


Target = Annotated[AssetTarget | ClassTarget, Field(discriminator="kind")]


def target_class(target: AssetTarget | ClassTarget) -> str:
    """The asset class a target covers."""
    if isinstance(target, ClassTarget):
        return target.asset_class
    return get_reference_asset(target.asset_id).asset_class


def target_label(target: AssetTarget | ClassTarget) -> str:
    if isinstance(target, ClassTarget):
        return f"any {target.asset_class.replace('_', ' ')}"
    return get_reference_asset(target.asset_id).symbol


# --- channels -------------------------------------------------------------------------------


class ChannelType(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    TELEGRAM = "telegram"


class WebhookChannel(_Strict):
    """A JSON POST to ``url`` (http or https)."""

    type: Literal[ChannelType.WEBHOOK]
    url: Annotated[
        str,
        StringConstraints(
            max_length=2048,
            # No space or control character, spelt out: `\s` means more in Python than in
            # the document's (ECMAScript) regexes.
            pattern=r"^https?://[^\x00-\x20\x7f/?#@]+(?:[/?#][^\x00-\x20\x7f]*)?$",
        ),
    ] = Field(examples=["https://example.com/hooks/rwa"])


class EmailChannel(_Strict):
    type: Literal[ChannelType.EMAIL]
    address: Annotated[
        str,
        StringConstraints(
            max_length=320, pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"
        ),
    ] = Field(examples=["me@example.com"])


class TelegramChannel(_Strict):
    """A Telegram chat: its numeric id (negative for groups) or a public ``@channel``."""

    type: Literal[ChannelType.TELEGRAM]
    chat_id: Annotated[
        str, StringConstraints(pattern=r"^(?:-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
    ] = Field(examples=["123456789"])


Channel = Annotated[WebhookChannel | EmailChannel | TelegramChannel, Field(discriminator="type")]

RuleName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
CooldownMinutes = Annotated[int, Field(ge=0, le=MAX_COOLDOWN_MINUTES)]
HoldMinutes = Annotated[int, Field(ge=0, le=MAX_HOLD_MINUTES)]


#: The conditions only some classes can have, the classes, and why.
_APPLICABLE: dict[ConditionKind, tuple[frozenset[str], str]] = {
    ConditionKind.PEG_DEVIATION: (PEGGED_CLASSES, "peg deviation applies to stablecoins"),
    ConditionKind.NAV_PREMIUM: (
        NAV_CLASSES,
        "a premium or discount to NAV applies to assets with a NAV ("
        + ", ".join(sorted(NAV_CLASSES))
        + ")",
    ),
}


def _applicable(kind: ConditionKind, target: AssetTarget | ClassTarget | None) -> None:
    """Refuse a condition its target cannot have (a peg on bitcoin, a NAV on a stablecoin)."""
    needed = _APPLICABLE.get(kind)
    if needed is None or target is None:  # an invalid target reports its own error
        return
    classes, rule = needed
    covered = target_class(target)
    if covered not in classes:
        raise ValueError(f"{rule}; {target_label(target)} is {covered.replace('_', ' ')}")


def _distinct(channels: list[WebhookChannel | EmailChannel | TelegramChannel]) -> None:
    if len(set(channels)) != len(channels):
        raise ValueError("a channel is listed twice")


def _targets_of(classes: frozenset[str]) -> dict[str, Any]:
    """The JSON schema of the targets within ``classes``."""
    ids = sorted(a.asset_id for a in load_assets() if a.asset_class in classes)
    return {
        "anyOf": [
            {"properties": {"kind": {"const": "asset"}, "asset_id": {"enum": ids}}},
            {
                "properties": {
                    "kind": {"const": "asset_class"},
                    "asset_class": {"enum": sorted(classes)},
                }
            },
        ]
    }


def _conditions_need_targets(schema: dict[str, Any]) -> None:
    """The document of :class:`RuleSpec` states which targets a condition applies to (as
    ``if``/``then``), so that what it calls valid is what the API accepts."""
    schema["allOf"] = [
        {
            "if": {
                "properties": {"condition": {"properties": {"kind": {"const": kind.value}}}},
                "required": ["condition"],
            },
            "then": {"properties": {"target": _targets_of(classes)}},
        }
        for kind, (classes, _why) in _APPLICABLE.items()
    ]


class RuleSpec(_Strict):
    """What a user writes: everything of a rule but its id, owner and times."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra=_conditions_need_targets
    )

    name: RuleName | None = Field(
        default=None, description="A label; default: a summary of the condition."
    )
    target: Target
    condition: Condition
    channels: Annotated[list[Channel], Field(max_length=MAX_CHANNELS)] = Field(
        default_factory=list,
        description="Where firings are delivered besides the dashboard and WebSocket.",
    )
    cooldown_minutes: CooldownMinutes = Field(
        default=60, description="After a firing, the rule stays quiet this long."
    )
    hold_minutes: HoldMinutes = Field(
        default=0, description="The condition must hold this long before the rule fires."
    )
    active: bool = Field(default=True, description="Paused rules are kept but not evaluated.")

    @field_validator("condition")
    @classmethod
    def _condition_fits_target(cls, condition: AnyCondition, info: ValidationInfo) -> AnyCondition:
        target = info.data.get("target")
        if _is_stored(info) and isinstance(target, AssetTarget) and not _is_listed(target):
            return condition  # checked when it was saved; the asset has gone since
        _applicable(condition.kind, target)
        return condition

    @field_validator("channels")
    @classmethod
    def _no_repeated_channel(
        cls, channels: list[WebhookChannel | EmailChannel | TelegramChannel]
    ) -> list[WebhookChannel | EmailChannel | TelegramChannel]:
        _distinct(channels)
        return channels


def _only_name_nullable(schema: dict[str, Any]) -> None:
    """The document of :class:`RulePatch`: a field left out is unchanged, but only ``name``
    may be null (it clears the label); null for another field is refused when the merged
    rule is validated, so the document does not offer it."""
    for field_name, prop in schema.get("properties", {}).items():
        if field_name == "name" or "anyOf" not in prop:
            continue
        kept = [option for option in prop.pop("anyOf") if option.get("type") != "null"]
        prop.pop("default", None)
        if len(kept) == 1:
            prop.update(kept[0])
        else:  # pragma: no cover - every field but name is one type or null
            prop["anyOf"] = kept


class RulePatch(BaseModel):
    """A change to a rule: only the fields given are replaced (``name: null`` clears the
    label); the result is validated as a whole, like a new rule."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_only_name_nullable)

    name: RuleName | None = None
    target: Target | None = None
    condition: Condition | None = None
    channels: Annotated[list[Channel], Field(max_length=MAX_CHANNELS)] | None = None
    cooldown_minutes: CooldownMinutes | None = None
    hold_minutes: HoldMinutes | None = None
    active: bool | None = None

    @field_validator(
        "target", "condition", "channels", "cooldown_minutes", "hold_minutes", "active"
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Defaults are not validated: this sees only a null the client sent.
        if value is None:
            raise ValueError("may not be null: leave the field out to keep it")
        return value


class Rule(RuleSpec):
    """A stored rule, as the API answers it and as evaluation reads it."""

    id: int
    user_id: int
    created_at: dt.datetime
    updated_at: dt.datetime


class RulePage(BaseModel):
    total: int = Field(description="The user's rules, before paging.")
    limit: int
    offset: int
    rules: list[Rule]


# --- the rule in words ----------------------------------------------------------------------


def _window(minutes: int) -> str:
    for size, unit in ((7 * 24 * 60, "week"), (24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' * (count != 1)}"
    return f"{minutes} minutes"  # pragma: no cover - every whole number of minutes is handled


def _moves(move: Move, pct: float) -> str:
    verb = {Move.UP: "rises", Move.DOWN: "falls", Move.EITHER: "moves"}[move]
    return f"{verb} {pct:g}%"


def _condition_words(condition: AnyCondition) -> str:
    """The condition as a phrase following the target's name."""
    match condition:
        case PriceCondition():
            return f"price is {condition.direction} {condition.level:g} USD"
        case PctMoveCondition():
            window = _window(condition.window_minutes)
            return f"price {_moves(condition.move, condition.pct)} within {window}"
        case PegDeviationCondition():
            return f"deviates {condition.threshold_bps:g} bps or more from its 1 USD peg"
        case NavPremiumCondition():
            side = "premium or discount" if condition.side == NavSide.EITHER else condition.side
            return f"{side} to NAV reaches {condition.threshold_bps:g} bps"
        case RiskScoreCondition():
            return f"risk score is {condition.direction} {condition.level:g}"
        case SentimentBelowCondition():
            return f"daily sentiment is below {condition.level:g}"
        case ForecastReturnCondition():
            return f"7-day forecast return is {condition.direction} {condition.level_pct:g}%"
        case SupplyChangeCondition():
            days = _window(condition.window_days * 24 * 60)
            return f"on-chain supply {_moves(condition.move, condition.pct)} over {days}"
        case HoldersChangeCondition():
            days = _window(condition.window_days * 24 * 60)
            return f"number of holders {_moves(condition.move, condition.pct)} over {days}"
    raise AssertionError(condition)  # pragma: no cover - the union is closed


def describe(spec: RuleSpec) -> str:
    """The rule in one line, e.g. "USDC: price is below 0.995 USD; via telegram"."""
    words = f"{target_label(spec.target)}: {_condition_words(spec.condition)}"
    if spec.hold_minutes:
        words += f", holding for {_window(spec.hold_minutes)}"
    if spec.channels:
        words += "; via " + ", ".join(sorted({c.type.value for c in spec.channels}))
    return words
