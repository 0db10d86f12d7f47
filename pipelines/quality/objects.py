"""The refused share judged per bronze object, and when broken objects stop a batch.

The rule (docs/quality.md, "One bad object"):

* A bronze object is **broken** when more than ``RWA_QUALITY_MAX_FAILURE_SHARE`` of its own
  records are refused (a truncated or unparseable object is 100 % refused). A broken object is
  quarantined *whole* -- its valid records too, so that a replay later takes it in as one unit --
  and the other objects of the batch proceed.
* The failure is **systematic**, and the batch fails loudly with nothing merged, when

  1. most objects of the batch are broken (more than half, and at least
     :data:`MIN_SYSTEMATIC_OBJECTS`): a parser regression or a changed source seen at once; or
  2. the batch has a broken object and the dataset then has more than
     ``RWA_QUALITY_MAX_BROKEN_OBJECTS`` broken objects waiting for an operator (quarantined, not
     set aside or replayed), this batch's included: the same failure seen one object at a time,
     or a source that keeps sending broken objects.

Objects an operator has set aside (``rwa quarantine set-aside``) are quarantined whole without
being judged and count towards neither condition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipelines.contracts.quarantine import OBJECT_BROKEN

#: Broken objects of one batch below this count are never called systematic by themselves: a
#: lone truncated object (alone in its batch) must not block the dataset.
MIN_SYSTEMATIC_OBJECTS = 2
#: Refusal reasons named per object.
TOP_REASONS = 3


@dataclass(frozen=True, slots=True)
class ObjectVerdict:
    """How one bronze object fared in a micro-batch."""

    bronze_file: str
    records_in: int
    refused: int
    #: The most frequent refusal reasons with their counts ("" when none).
    reasons: str

    @property
    def share(self) -> float:
        return self.refused / self.records_in if self.records_in else 0.0

    def is_broken(self, max_share: float) -> bool:
        return self.share > max_share

    def describe(self, max_share: float) -> str:
        return OBJECT_BROKEN.text(
            refused=self.refused,
            records_in=self.records_in,
            share=self.share,
            max_share=max_share,
            reasons=self.reasons,
        )


def judge_objects(
    record_files: Iterable[str], refusals: Iterable[tuple[str, str]]
) -> list[ObjectVerdict]:
    """One verdict per object that brought records: ``record_files`` is the ``bronze_file``
    of every record, ``refusals`` the ``(bronze_file, reason)`` of every refused one."""
    return judge_object_counts(Counter(record_files), refusals)


def judge_object_counts(
    records: Mapping[str, int], refusals: Iterable[tuple[str, str]]
) -> list[ObjectVerdict]:
    """:func:`judge_objects` from the records each object brought (``bronze_file`` -> count,
    as a Spark aggregate gives them)."""
    reasons: dict[str, Counter[str]] = {}
    for bronze_file, reason in refusals:
        reasons.setdefault(bronze_file, Counter()).update((reason,))
    return [
        ObjectVerdict(
            bronze_file=name,
            records_in=count,
            refused=sum(reasons.get(name, Counter()).values()),
            reasons=_top(reasons.get(name, Counter())),
        )
        for name, count in sorted(records.items())
    ]


def _top(reasons: Counter[str]) -> str:
    return "; ".join(f"{reason} ({n})" for reason, n in reasons.most_common(TOP_REASONS))


def systematic_failure(
    broken: Sequence[ObjectVerdict],
    objects_judged: int,
    *,
    awaiting_before: int,
    max_awaiting: int,
) -> str | None:
    """Why the broken objects of a batch stop it (None: quarantine them and go on).

    ``objects_judged``: objects of the batch that brought records and were not set aside;
    ``awaiting_before``: broken objects of the dataset already waiting for an operator (not
    among ``broken``)."""
    count = len(broken)
    if count >= MIN_SYSTEMATIC_OBJECTS and count * 2 > objects_judged:
        return (
            f"{count} of the batch's {objects_judged} bronze objects are broken: most of them, "
            f"which looks like a parser regression or a changed source rather than a bad object"
        )
    awaiting = awaiting_before + count
    # Only a batch that brings a broken object stops: clean batches always proceed.
    if count and awaiting > max_awaiting:
        return (
            f"{awaiting} broken bronze objects are waiting in quarantine, above "
            f"RWA_QUALITY_MAX_BROKEN_OBJECTS ({max_awaiting}): look at them (`rwa quarantine "
            f"list`), then set them aside or fix the cause and replay them"
        )
    return None
