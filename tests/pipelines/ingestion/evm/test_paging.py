"""How nodes' refusals of an ``eth_getLogs`` range are read (their real words) and how the
range narrows and grows back."""

from __future__ import annotations

import pytest

from pipelines.ingestion.evm.paging import (
    GROW_AFTER,
    Pager,
    RangeNotNarrowableError,
    RangeRefusal,
    range_refusal,
)

ALCHEMY = (
    "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
    "and no limit on the response size, or you can request any block range with a cap of 10K "
    "logs in the response. Based on your parameters and the response size limit, this block "
    "range should work: [0x0, 0x2e7ec]"
)


@pytest.mark.parametrize(
    ("error", "suggested", "limit"),
    [
        ({"code": -32005, "message": "query returned more than 10000 results"}, None, None),
        (
            {
                "code": -32602,
                "message": "Query returned more than 10000 results. Try with this block range "
                "[0x118dc91, 0x1198cc3].",
            },
            (0x118DC91, 0x1198CC3),
            None,
        ),
        ({"code": -32602, "message": ALCHEMY}, (0, 0x2E7EC), 2000),
        ({"code": -32602, "message": "range 1000000 exceeds limit of 10000"}, None, 10_000),
        (
            {
                "code": -32602,
                "message": "invalid params",
                "data": {"payload": "range 9009594 is bigger than range limit 2000"},
            },
            None,
            2000,
        ),
        ({"code": -32000, "message": "exceed maximum block range: 5000"}, None, 5000),
        ({"code": -32000, "message": "block range is too wide"}, None, None),
        (
            {
                "code": -32602,
                "message": "query exceeds max results 20000, retry with the range "
                "25766988-25775072",
            },
            (25_766_988, 25_775_072),
            None,
        ),
    ],
)
def test_each_nodes_refusal_is_read(
    error: dict[str, object], suggested: tuple[int, int] | None, limit: int | None
) -> None:
    refusal = range_refusal(error)
    assert refusal is not None
    assert (refusal.suggested, refusal.block_limit) == (suggested, limit)


@pytest.mark.parametrize(
    "error",
    [
        {"code": -32601, "message": "the method eth_getLogs does not exist/is not available"},
        {"code": -32000, "message": "header not found"},
        "not an error object",
    ],
)
def test_other_errors_are_no_refusal(error: object) -> None:
    assert range_refusal(error) is None


def test_the_range_halves_takes_suggestions_and_limits_then_grows_back() -> None:
    pager = Pager(max_span=2000)
    assert pager.window(100, 10_000) == (100, 2099)
    pager.refused(RangeRefusal("more than 10000 results"), 100, 2099)
    assert pager.window(100, 10_000) == (100, 1099)  # halved
    pager.refused(RangeRefusal("try [0x64, 0xc7]", suggested=(100, 199)), 100, 1099)
    assert pager.span == 100  # the suggested range, which starts where the refused one did
    pager.refused(RangeRefusal("elsewhere", suggested=(5, 60)), 100, 199)
    assert pager.span == 50  # a suggestion for another start is no use: halved
    pager.refused(RangeRefusal("limit of 10", block_limit=10), 100, 149)
    assert pager.span == 10
    for _ in range(GROW_AFTER):
        pager.succeeded()
    assert pager.span == 20
    for _ in range(GROW_AFTER * 10):
        pager.succeeded()
    assert pager.span == 2000  # never past the maximum
    assert pager.window(9_500, 10_000) == (9_500, 10_000)  # never past the target


def test_a_refused_single_block_cannot_be_narrowed() -> None:
    with pytest.raises(RangeNotNarrowableError, match="block 7 alone"):
        Pager(max_span=1).refused(RangeRefusal("too many logs"), 7, 7)
