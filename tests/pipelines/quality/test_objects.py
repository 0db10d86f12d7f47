"""The per-object rule: which bronze objects are broken, and when broken objects are systematic."""

from __future__ import annotations

from pipelines.quality.objects import ObjectVerdict, judge_objects, systematic_failure


def verdict(name: str, records_in: int, refused: int) -> ObjectVerdict:
    return ObjectVerdict(name, records_in, refused, "")


def test_each_object_is_judged_on_its_own_records() -> None:
    files = ["a"] * 4 + ["b"] * 100 + ["c"]
    refusals = [("a", "field 'price_open' is not a number")] * 2 + [("c", "malformed JSON line")]
    refusals += [("b", "high must be >= low")] * 3

    verdicts = {v.bronze_file: v for v in judge_objects(files, refusals)}

    assert [(v.records_in, v.refused) for v in verdicts.values()] == [(4, 2), (100, 3), (1, 1)]
    assert verdicts["a"].reasons == "field 'price_open' is not a number (2)"
    broken = sorted(name for name, v in verdicts.items() if v.is_broken(0.05))
    assert broken == ["a", "c"]  # b refused 3 %: within the threshold, proceeds
    # judged over the batch, 6 of 105 (5.7 %) would have failed everything
    assert verdicts["c"].describe(0.05).startswith("1 of 1 records refused (100.0%), above")


def test_a_lone_broken_object_is_not_systematic() -> None:
    assert systematic_failure([verdict("a", 1, 1)], 1, awaiting_before=0, max_awaiting=3) is None


def test_most_objects_of_a_batch_broken_is_systematic() -> None:
    broken = [verdict(name, 10, 10) for name in "abc"]
    why = systematic_failure(broken, 5, awaiting_before=0, max_awaiting=10)
    assert why is not None and "3 of the batch's 5 bronze objects are broken" in why
    assert systematic_failure(broken[:2], 5, awaiting_before=0, max_awaiting=10) is None


def test_too_many_broken_objects_waiting_is_systematic() -> None:
    one = [verdict("d", 10, 10)]
    assert systematic_failure(one, 50, awaiting_before=2, max_awaiting=3) is None
    why = systematic_failure(one, 50, awaiting_before=3, max_awaiting=3)
    assert why is not None and "4 broken bronze objects are waiting" in why
    assert systematic_failure([], 50, awaiting_before=9, max_awaiting=3) is None  # none new
