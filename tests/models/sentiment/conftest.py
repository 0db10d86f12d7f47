"""A tiny BERT sequence classifier built and saved locally (no hub): the real
``from_pretrained`` loading and inference path runs on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

WORDS = [
    "the",
    "fund",
    "token",
    "treasury",
    "yield",
    "rises",
    "falls",
    "default",
    "loss",
    "gain",
    "strong",
    "weak",
    "record",
    "outflows",
    "inflows",
    "stablecoin",
    "depeg",
    "redemption",
    "approval",
    "lawsuit",
    "growth",
    "decline",
    "news",
    "report",
]


def build_tiny_bert(folder: Path, id2label: dict[int, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    config = BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=3,
        id2label=id2label,
        label2id={label: i for i, label in id2label.items()},
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_finbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ProsusAI's label order."""
    return build_tiny_bert(
        tmp_path_factory.mktemp("models") / "tiny-finbert",
        {0: "positive", 1: "negative", 2: "neutral"},
    )
