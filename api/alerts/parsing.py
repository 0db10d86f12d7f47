"""Plain-language alerts: a sentence → a :class:`~api.alerts.rules.RuleSpec`, echoed back for
confirmation (never saved here).

A sentence the grammar cannot read raises :class:`NotUnderstoodError` naming the words it stopped
at, what it expected there, and an example that would work (chosen by what the sentence
seems to be about). A sentence that reads but describes an invalid rule (a peg alert on
bitcoin, a level out of range) raises it too, naming the rule's field.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from lark import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import VisitError
from lark.lexer import PatternStr
from pydantic import BaseModel, Field, ValidationError

from api.alerts.grammar import Draft, RuleTransformer, TextError, parser
from api.alerts.rules import ChannelType, ConditionKind, RuleSpec, describe
from api.alerts.vocabulary import normalise, vocabulary

#: Longest sentence read (the grammar is Earley: cost grows with length).
MAX_TEXT = 500

#: Examples that work, by what a sentence seems to be about (first word found wins).
EXAMPLES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("peg", "depeg"), "tell me if USDC depegs by more than 50 bps"),
    (("premium", "discount", "nav"), "alert me when BUIDL's premium goes over 50 bps"),
    (("risk",), "warn me if any stablecoin's risk score goes above 60"),
    (("sentiment", "mood"), "tell me when BTC's daily sentiment drops below -0.3"),
    (("forecast", "predict", "expected"), "alert me if BTC's 7-day forecast return goes below -5%"),
    (("supply",), "tell me if USDC's supply moves 5% over 7 days"),
    (("holder",), "alert me if BUIDL's holders grow 10% in 30 days"),
    (("%", "percent", "move"), "ping me on telegram if BTC moves 5% in an hour"),
)
DEFAULT_EXAMPLE = "tell me if USDC drops below 0.995"

#: How an expected terminal is named to a person.
_TERMINALS = {
    "ASSET": "an asset (e.g. USDC, BUIDL, bitcoin)",
    "CLASS": "an asset class (e.g. any stablecoin)",
    "NUMBER": "a number",
    "MINUTE": "a time unit (minutes, hours, days, weeks)",
    "EMAIL": "an e-mail address",
    "URL": "an http(s) URL",
    "TG_CHAT": "a Telegram chat id",
}
_UNITS = {"HOUR", "DAY", "WEEK", "MONTH"}
_MAX_EXPECTED = 12
_PRIORITY = {
    word: rank
    for rank, word in enumerate(
        (
            "if",
            "when",
            "above",
            "below",
            "drops",
            "rises",
            "moves",
            "price",
            "in",
            "within",
            "over",
            "by",
            "'s",
            "risk",
            "premium",
            "discount",
            "peg",
            "depegs",
            "sentiment",
            "forecast",
            "supply",
            "holders",
            "telegram",
            "email",
            "webhook",
            "for",
        )
    )
}


class ParsedRule(BaseModel):
    """What a sentence says, for the user to confirm before saving it (POST /alerts/rules)."""

    text: str
    summary: str = Field(description="The rule in words, to check it was read as meant.")
    rule: RuleSpec
    incomplete_channels: list[ChannelType] = Field(
        description="Channels the sentence asked for without saying where (e.g. 'on "
        "telegram' without a chat id): ask for it, then add the channel to rule.channels."
    )


@dataclass
class NotUnderstoodError(Exception):
    """Why a sentence is not a rule: ``part`` is the words at fault (or the field)."""

    message: str
    part: str
    example: str
    position: int | None = None
    expected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def context(self) -> dict[str, Any]:
        found: dict[str, Any] = {"not_understood": self.part, "example": self.example}
        if self.position is not None:
            found["position"] = self.position
        if self.expected:
            found["expected"] = self.expected
        return found


def example_for(text: str) -> str:
    lowered = text.lower()
    for words, example in EXAMPLES:
        if any(word in lowered for word in words):
            return example
    return DEFAULT_EXAMPLE


def parse_rule(text: str, email: str | None = None) -> ParsedRule:
    """The rule ``text`` describes. ``email``, the user's address, fills in "email me"."""
    # Typographic apostrophes become plain ones; the length is unchanged, so positions hold.
    plain = text.replace("\u2019", "'")
    example = example_for(plain)
    if len(plain) > MAX_TEXT:
        raise NotUnderstoodError(
            f"the sentence is longer than {MAX_TEXT} characters", "text", example
        )
    try:
        tree = parser().parse(plain)
        draft: Draft = RuleTransformer().transform(tree)
    except UnexpectedInput as error:
        raise _unreadable(plain, error, example) from None
    except VisitError as error:
        if isinstance(error.orig_exc, TextError):
            raise NotUnderstoodError(str(error.orig_exc), error.orig_exc.part, example) from None
        raise
    if ChannelType.EMAIL in draft.incomplete and email is not None:
        draft.incomplete.remove(ChannelType.EMAIL)
        draft.channels.append({"type": ChannelType.EMAIL.value, "address": email})
    try:
        rule = RuleSpec.model_validate(draft.body())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if not _is_union_tag(part))
        message = first["msg"].removeprefix("Value error, ")
        raise NotUnderstoodError(
            f"the sentence reads as a rule that is not valid: {where}: {message}",
            where,
            example,
        ) from None
    summary = describe(rule)
    return ParsedRule(
        text=text, summary=summary, rule=rule, incomplete_channels=list(draft.incomplete)
    )


def _is_union_tag(part: str | int) -> bool:
    """pydantic puts the discriminator's value in an error's location ("price"); a user
    wants the field path."""
    return isinstance(part, str) and part in _TAGS


_TAGS = frozenset(
    {"asset", "asset_class", *(t.value for t in ChannelType), *(k.value for k in ConditionKind)}
)


def _unreadable(text: str, error: UnexpectedInput, example: str) -> NotUnderstoodError:
    names = _expected_names(error)
    expected = _describe_expected(names)
    if isinstance(error, UnexpectedEOF) or error.pos_in_stream is None or error.pos_in_stream < 0:
        what = ", ".join(expected) or "more"
        return NotUnderstoodError(
            f"the sentence stops too early: expected {what} after {text.strip()!r}",
            "the end of the sentence",
            example,
            len(text),
            expected,
        )
    position = error.pos_in_stream
    words = text[position:].split()
    part = " ".join(words[:3]) or text[position:]
    if "ASSET" in names and not _starts_with_known_word(text[position:]):
        guess = words[0].strip("'s,.?!") if words else ""
        close = difflib.get_close_matches(normalise(guess), vocabulary().assets, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return NotUnderstoodError(
            f"{guess!r} is not an asset or asset class I know{hint}; name an asset by its "
            "ticker or name (USDC, BUIDL, bitcoin) or a class (any stablecoin)",
            guess,
            example,
            position,
            expected,
        )
    if words and words[0].lower() in ("or", "and", "but"):
        return NotUnderstoodError(
            f"a rule watches one condition: {part!r} starts another; make one rule for each "
            "condition",
            part,
            example,
            position,
            expected,
        )
    return NotUnderstoodError(
        f"could not understand {part!r} (at character {position + 1}): expected "
        + (", ".join(expected) or "something else"),
        part,
        example,
        position,
        expected,
    )


def _starts_with_known_word(rest: str) -> bool:
    first = normalise(rest).split(" ")
    return bool(first) and first[0].strip("'s") in vocabulary().assets


def _expected_names(error: UnexpectedInput) -> set[str]:
    if isinstance(error, UnexpectedCharacters):
        return set(error.allowed or ())
    if isinstance(error, UnexpectedEOF):
        return {token if isinstance(token, str) else token.type for token in error.expected}
    return set(getattr(error, "expected", ()) or ())


def _describe_expected(names: set[str]) -> list[str]:
    """Terminal names → words a person reads: literals as themselves, named terminals by
    what they are; sorted and capped."""
    terminals = {t.name: t for t in parser().terminals}
    described: set[str] = set()
    for name in names:
        if name in _UNITS:
            name = "MINUTE"
        if name in _TERMINALS:
            described.add(_TERMINALS[name])
            continue
        terminal = terminals.get(name)
        if terminal is not None and isinstance(terminal.pattern, PatternStr):
            described.add(repr(terminal.pattern.value))
    named = sorted(d for d in described if d in _TERMINALS.values())
    # The words that start most phrasings first, then the rest alphabetically.
    words = sorted(described - set(named), key=lambda w: (_PRIORITY.get(w.strip("'\""), 99), w))
    return (named + words)[:_MAX_EXPECTED]


__all__ = ["MAX_TEXT", "NotUnderstoodError", "ParsedRule", "parse_rule"]
