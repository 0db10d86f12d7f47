"""The plain-language parser on the phrasings of ``phrasings.yaml``: each right one reads as
the rule written beside it, each wrong one is refused naming the part at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from api.alerts.parsing import MAX_TEXT, NotUnderstoodError, parse_rule
from api.alerts.rules import RuleSpec
from api.alerts.vocabulary import vocabulary
from pipelines.reference import load_assets

PHRASINGS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "phrasings.yaml").read_text(encoding="utf-8")
)
EMAIL = "me@example.com"


def test_the_file_holds_at_least_40_phrasings_right_and_wrong() -> None:
    assert len(PHRASINGS) >= 40
    assert sum("error" in case for case in PHRASINGS) >= 10


@pytest.mark.parametrize("case", PHRASINGS, ids=[case["text"][:60] for case in PHRASINGS])
def test_phrasing(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(NotUnderstoodError) as caught:
            parse_rule(case["text"], email=EMAIL)
        assert caught.value.part == case["error"]["part"]
        assert case["error"]["says"] in caught.value.message
        # Every refusal offers a sentence that works.
        assert parse_rule(caught.value.example).rule is not None
        return
    parsed = parse_rule(case["text"], email=EMAIL)
    assert parsed.rule == RuleSpec.model_validate(case["rule"])
    assert [c.value for c in parsed.incomplete_channels] == case.get("incomplete", [])
    assert parsed.summary


def test_an_unreadable_part_is_located_with_what_was_expected_there() -> None:
    with pytest.raises(NotUnderstoodError) as caught:
        parse_rule("tell me if USDC wobbles below 0.99")
    context = caught.value.context()
    assert context["not_understood"].startswith("wobbles")
    assert context["position"] == len("tell me if USDC ")
    assert "'below'" in context["expected"]
    assert context["example"] == "tell me if USDC drops below 0.995"


def test_without_the_users_address_email_me_is_left_to_complete() -> None:
    parsed = parse_rule("email me if BTC goes above 100k")
    assert parsed.rule.channels == []
    assert [c.value for c in parsed.incomplete_channels] == ["email"]


def test_a_sentence_longer_than_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(NotUnderstoodError, match="longer than"):
        parse_rule("tell me if USDC drops below 0.995 " * (MAX_TEXT // 10))


def test_every_asset_of_the_reference_data_is_known_by_id_and_symbol() -> None:
    words = vocabulary().assets
    for asset in load_assets():
        assert words[asset.asset_id] == asset.asset_id
        assert words[asset.symbol.lower()] == asset.asset_id
