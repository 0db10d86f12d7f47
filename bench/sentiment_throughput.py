"""Benchmark: sentences per second of our batched sentiment inference beside a plain
``transformers`` pipeline, on a BERT-base-sized classifier.

No weights can be downloaded here, so the model is a BERT-base architecture (12 layers, hidden
768, 12 heads, a 30,522-token vocabulary) with random weights, built and saved locally: speed
does not depend on what the weights learned. Both sides load the same checkpoint from disk and
score the same synthetic headlines (8 to 60 words) on the CPU:

* **ours**: ``models.sentiment.scorers.FinBertScorer``: length-sorted batches of
  ``--batch-size``, dynamic padding, truncation to ``--max-tokens``, ``inference_mode``;
* **baseline**: ``transformers.pipeline("text-classification", top_k=None)`` over the same
  list with its defaults (one text at a time).

Usage: .venv/bin/python bench/sentiment_throughput.py [--texts 256] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast, pipeline

from models.sentiment.scorers import FinBertScorer

WORDS = 30_522 - 5


def build_model(folder: Path) -> None:
    vocab = folder / "vocab.txt"
    vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(WORDS))])
    )
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder)
    labels = {0: "positive", 1: "negative", 2: "neutral"}
    config = BertConfig(num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)


def headlines(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [
        " ".join(f"w{w}" for w in rng.integers(0, WORDS, rng.integers(8, 61))) for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    texts = headlines(args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_model(folder)
        ours = FinBertScorer(str(folder), batch_size=args.batch_size, max_tokens=args.max_tokens)
        plain = pipeline("text-classification", model=str(folder), top_k=None, device="cpu")
        ours.score(texts[:4])  # warm-up, both sides
        plain(texts[:4])
        started = time.perf_counter()
        ours.score(texts)
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        plain(texts, truncation=True, max_length=args.max_tokens)
        plain_s = time.perf_counter() - started
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"model: BERT-base architecture (random weights), {args.texts} texts of 8-60 words")
    batch = args.batch_size
    print(f"ours     : {args.texts / ours_s:7.1f} sentences/s ({ours_s:.1f} s, batch {batch})")
    print(f"pipeline : {args.texts / plain_s:7.1f} sentences/s ({plain_s:.1f} s)")
    print(f"ratio ours / pipeline: {plain_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
