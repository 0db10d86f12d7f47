"""Evaluating every active alert rule on the served data: edge-triggered, with a cooldown and
an optional "holds for N minutes", each firing stored with the values that fired it.

One evaluation reads the rules, the served data each kind needs (:mod:`api.alerts.observations`:
a handful of reads, whatever the number of rules) and the rules' states, decides every
(rule, asset) pair at once on columns, then writes the changed states and the firings in one
transaction of the operational database. Per pair (:class:`~api.alerts.tables.AlertState`):

* a condition that becomes true starts an *episode* (``true_since``: the evaluation's clock);
  the rule fires once the episode has lasted ``hold_minutes`` (at once without one), if it
  has not fired in this episode and ``cooldown_minutes`` have passed since it last fired;
  so a condition that stays true fires once, and again only after it cleared;
* served data older than the newest already evaluated (``last_data_ts``) is ignored: a slow
  evaluator reading an older snapshot cannot clear an episode and make it fire twice; the
  same data may be evaluated again (a day's row revised in place is seen) and fires nothing
  new, since nothing in it started an episode;
* an edited rule (its ``updated_at`` moved) starts from a clean state;
* a firing is unique per (rule, asset, served instant): evaluations are serialised (an
  advisory lock on PostgreSQL, the write lock taken first on SQLite) and the insert does
  nothing on a conflict, so two evaluators of one load record one firing.

Rules naming an asset the served data or the reference data no longer has are skipped and
logged, never fatal. ``announce`` is called with the new firings in their transaction: by
default :func:`api.alerts.firings.announce` (its notifications in the outbox, its
``alert_triggered`` event in the event channel), so all are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.tables import User, utcnow
from api.alerts import firings
from api.alerts.firings import RecordedFiring
from api.alerts.observations import EXTRAS, VALUE_NAMES, Needs, Observations, observe
from api.alerts.rules import ConditionKind, Rule, asset_ids
from api.alerts.service import to_rule
from api.alerts.tables import AlertFiring, AlertRule, AlertState
from pipelines.serving.store import ServingStore

log = logging.getLogger(__name__)

Kind = ConditionKind
#: Called with the new firings (and their rules), in the transaction that records them.
Announce = Callable[[Session, Sequence[tuple[RecordedFiring, Rule]]], None]
#: States written by one statement (8 parameters each: SQLite binds at most 32,766).
STATES_PER_STATEMENT = 2000
#: The key of PostgreSQL's advisory lock that serialises evaluations.
EVALUATION_LOCK = 0x72776141_6C727473  # "rwaAlrts"

#: Kinds whose value is compared with a level (above / below).
_LEVEL_KINDS = frozenset({Kind.PRICE, Kind.RISK_SCORE, Kind.FORECAST_RETURN, Kind.SENTIMENT_BELOW})
#: Kinds whose signed value is compared with a size in a direction (up / down / either).
_WINDOWED = {Kind.PCT_MOVE: "window_minutes", Kind.SUPPLY_CHANGE: "window_days"}
_WINDOWED[Kind.HOLDERS_CHANGE] = "window_days"
_SIDES = {"premium": "up", "discount": "down", "either": "either"}


@dataclass
class EvaluationReport:
    """What one evaluation did: rules read, (rule, asset) pairs with served data, conditions
    true, the firings recorded, and the time spent reading, deciding and writing."""

    now: dt.datetime
    rules: int = 0
    pairs: int = 0
    true: int = 0
    fired: list[int] = field(default_factory=list)
    #: Firings another evaluator had recorded already (not announced again).
    duplicates: int = 0
    #: Rules skipped: their asset is not served or no longer in the reference data, or their
    #: stored condition cannot be read.
    skipped_rules: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate(
    store: ServingStore,
    sessions: sessionmaker[Session],
    now: dt.datetime | None = None,
    *,
    announce: Announce = firings.announce,
) -> EvaluationReport:
    """Evaluate every active rule of every active user on ``store`` as of ``now`` (default:
    the current time), record the firings and the rules' states in the operational database
    ``sessions`` opens; the entry point of the pipeline hook, the worker and the benchmark."""
    report = EvaluationReport(now=now or utcnow())
    started = time.perf_counter()
    with sessions() as session:
        rules, report.skipped_rules = _rules(session)
        report.rules = len(rules) + len(report.skipped_rules)
        if rules.empty:
            return report
        observations = observe(store, _needs(rules))
        pairs = _pairs(rules, observations, report)
        report.seconds["read"] = time.perf_counter() - started
        _serialise(session)  # from here on, one evaluation at a time
        states = _states(session, pairs)
        decided = decide(pairs, states, pd.Timestamp(report.now))
        report.seconds["decide"] = time.perf_counter() - started - report.seconds["read"]
        report.pairs, report.true = len(decided), int(decided["condition"].sum())
        _write_states(session, decided, report.now)
        _write_firings(session, decided, observations, report, announce)
        session.commit()
    report.seconds["total"] = time.perf_counter() - started
    report.seconds["write"] = report.seconds["total"] - sum(
        report.seconds[part] for part in ("read", "decide")
    )
    return report


# --- rules ----------------------------------------------------------------------------------

_RULE_COLUMNS = (
    AlertRule.id,
    AlertRule.user_id,
    AlertRule.target_kind,
    AlertRule.asset_id,
    AlertRule.asset_class,
    AlertRule.condition_kind,
    AlertRule.condition,
    AlertRule.cooldown_minutes,
    AlertRule.hold_minutes,
    AlertRule.updated_at,
)


def _rules(session: Session) -> tuple[pd.DataFrame, list[int]]:
    """The active rules of active users, their conditions' parameters as columns; and the
    ids of those whose stored condition cannot be read (skipped)."""
    query = (
        select(*_RULE_COLUMNS)
        .join(User, User.id == AlertRule.user_id)
        .where(AlertRule.active.is_(True), User.is_active.is_(True))
        .order_by(AlertRule.id)
    )
    rows = session.execute(query).all()
    names = [column.key for column in _RULE_COLUMNS]
    frame = pd.DataFrame([tuple(row) for row in rows], columns=names)
    frame = frame.rename(columns={"id": "rule_id", "asset_id": "target_asset"})
    parsed = [
        _parameters(kind, condition)
        for kind, condition in zip(frame["condition_kind"], frame["condition"], strict=True)
    ]
    readable = np.array([params is not None for params in parsed], dtype=bool)
    unreadable = [int(rule_id) for rule_id in frame.loc[~readable, "rule_id"]]
    if unreadable:
        log.warning("alert rules %s skipped: their stored conditions cannot be read", unreadable)
    params = pd.DataFrame(
        [params for params in parsed if params is not None],
        columns=["direction", "level", "move", "size", "window"],
        index=frame.index[readable],
    )
    frame = pd.concat([frame.loc[readable].drop(columns=["condition"]), params], axis=1)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True)
    return frame, unreadable


def _parameters(kind: str, condition: Any) -> tuple[str, float, str, float, int] | None:
    """(direction, level, move, size, window) of a stored condition: a level kind compares
    its value with ``level`` in ``direction``; the others compare their signed value with
    ``size`` in ``move`` (a peg or NAV deviation, a price move, an on-chain change); None
    when the stored condition cannot be read (the API validates what it stores; a row
    written otherwise must not stop every other rule's evaluation)."""
    try:
        return _read_parameters(kind, condition)
    except (KeyError, TypeError, ValueError):
        return None


def _read_parameters(kind: str, condition: Any) -> tuple[str, float, str, float, int]:
    match kind:
        case Kind.PRICE | Kind.RISK_SCORE:
            return condition["direction"], float(condition["level"]), "", 0.0, 0
        case Kind.FORECAST_RETURN:
            return condition["direction"], float(condition["level_pct"]), "", 0.0, 0
        case Kind.SENTIMENT_BELOW:
            return "below", float(condition["level"]), "", 0.0, 0
        case Kind.PEG_DEVIATION:
            return "", 0.0, "either", float(condition["threshold_bps"]), 0
        case Kind.NAV_PREMIUM:
            return "", 0.0, _SIDES[condition["side"]], float(condition["threshold_bps"]), 0
        case Kind.PCT_MOVE | Kind.SUPPLY_CHANGE | Kind.HOLDERS_CHANGE:
            window = int(condition[_WINDOWED[Kind(kind)]])
            return "", 0.0, condition.get("move", "either"), float(condition["pct"]), window
    raise ValueError(f"unknown condition kind {kind!r}")


def rule_needs(session: Session) -> Needs:
    """What the active rules read of the served data (what :func:`evaluate` observes): for a
    baseline that decides the same rules on the same frames (``bench/alert_latency.py``)."""
    return _needs(_rules(session)[0])


def _needs(rules: pd.DataFrame) -> Needs:
    kinds = frozenset(Kind(kind) for kind in rules["condition_kind"].unique())

    def windows(kind: Kind) -> frozenset[int]:
        return frozenset(int(w) for w in rules.loc[rules["condition_kind"] == kind, "window"])

    onchain = {kind: windows(kind) for kind in (Kind.SUPPLY_CHANGE, Kind.HOLDERS_CHANGE)}
    return Needs(kinds, windows(Kind.PCT_MOVE), onchain)


def _pairs(
    rules: pd.DataFrame, observations: Observations, report: EvaluationReport
) -> pd.DataFrame:
    """Every (rule, asset) pair with its observation: a class target expands to the served
    assets of its class; a rule whose asset is gone is skipped (and logged)."""
    assets = observations.assets
    known = set(assets["asset_id"]) & set(asset_ids())
    single = rules[rules["target_kind"] == "asset"]
    gone = single[~single["target_asset"].isin(known)]
    if not gone.empty:
        skipped = [int(rule_id) for rule_id in gone["rule_id"]]
        report.skipped_rules = sorted(report.skipped_rules + skipped)
        log.warning(
            "alert rules %s skipped: their assets %s are not served or no longer in the "
            "reference data",
            skipped,
            sorted(set(gone["target_asset"])),
        )
    expanded = rules[rules["target_kind"] == "asset_class"].merge(
        assets[assets["asset_id"].isin(known)], on="asset_class"
    )
    targeted = pd.concat(
        [
            single[single["target_asset"].isin(known)].assign(asset_id=lambda f: f["target_asset"]),
            expanded,
        ],
        ignore_index=True,
    )
    joined = [
        _observed(targeted[targeted["condition_kind"] == kind], frame, kind)
        for kind, frame in observations.frames.items()
    ]
    frames = [frame for frame in joined if not frame.empty]
    # Every kind the rules name has a frame: with no observation at all, an empty pair list.
    return pd.concat(frames, ignore_index=True) if frames else joined[0]


def _observed(pairs: pd.DataFrame, frame: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    """``pairs`` of ``kind`` joined with its observations (a pair without one is dropped),
    keeping the observation's row for what a firing stores."""
    observed = frame[["asset_id", "window", "value", "data_ts"]].assign(observed_row=frame.index)
    if kind not in _WINDOWED:
        observed = observed.drop(columns=["window"])
        return pairs.merge(observed, on="asset_id").assign(frame_kind=kind.value)
    return pairs.merge(observed, on=["asset_id", "window"]).assign(frame_kind=kind.value)


# --- deciding -------------------------------------------------------------------------------


def conditions(pairs: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether each pair's condition holds on its value, for every kind at once."""
    value = pairs["value"].to_numpy(dtype="float64")
    level = pairs["level"].to_numpy(dtype="float64")
    size = pairs["size"].to_numpy(dtype="float64")
    direction = pairs["direction"].to_numpy()
    move = pairs["move"].to_numpy()
    by_level = np.where(direction == "above", value > level, value < level)
    by_size = np.where(
        move == "up", value >= size, np.where(move == "down", value <= -size, np.abs(value) >= size)
    )
    is_level = pairs["condition_kind"].isin([kind.value for kind in _LEVEL_KINDS]).to_numpy()
    return np.where(is_level, by_level, by_size)


_STATE_COLUMNS = (
    "rule_updated_at",
    "condition_true",
    "true_since",
    "last_fired_at",
    "last_data_ts",
)


def decide(pairs: pd.DataFrame, states: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """Each pair's new state and whether it fires now (``fire``); pairs whose data is older
    than their state's are left out (nothing about them changes)."""
    frame = pairs.merge(states, on=["rule_id", "asset_id"], how="left")
    # A state written for another version of the rule (or none) is a clean one.
    clean = frame["rule_updated_at"].isna() | (frame["rule_updated_at"] != frame["updated_at"])
    was_true = frame["condition_true"].where(~clean, False).fillna(False).astype(bool)
    since = frame["true_since"].where(~clean)
    fired_at = frame["last_fired_at"].where(~clean)
    last_data = frame["last_data_ts"].where(~clean)
    current = last_data.isna() | (frame["data_ts"] >= last_data)
    frame = frame[current.to_numpy()].copy()
    was_true, since, fired_at = was_true[current], since[current], fired_at[current]
    holds = conditions(frame)
    frame["condition"] = holds
    start = pd.Series(now, index=frame.index)
    frame["true_since"] = start.where(~was_true, since).where(holds)
    fired_in_episode = was_true & fired_at.notna() & (fired_at >= since)
    cooled = fired_at.isna() | (
        now - fired_at >= pd.to_timedelta(frame["cooldown_minutes"], unit="min")
    )
    held = (now - frame["true_since"]) >= pd.to_timedelta(frame["hold_minutes"], unit="min")
    frame["fire"] = (
        holds & ~fired_in_episode.to_numpy() & cooled.to_numpy() & held.fillna(False).to_numpy()
    )
    frame["last_fired_at"] = fired_at.where(~frame["fire"], now)
    frame["changed"] = (
        clean[current]
        | (frame["condition"] != was_true)
        | frame["fire"]
        | (frame["data_ts"] != last_data[current])
    )
    return frame


# --- the operational database ---------------------------------------------------------------


def _serialise(session: Session) -> None:
    """Take the lock that makes evaluations run one at a time, for this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVALUATION_LOCK})
    else:  # SQLite: a write takes the database's write lock (waiting for another writer)
        session.execute(
            update(AlertState).where(text("0 = 1")).values(asset_id=AlertState.asset_id)
        )


def _states(session: Session, pairs: pd.DataFrame) -> pd.DataFrame:
    columns = ["rule_id", "asset_id", *_STATE_COLUMNS]
    if pairs.empty:
        rows: Sequence[Any] = []
    else:
        rule_ids = sorted({int(rule_id) for rule_id in pairs["rule_id"]})
        query = select(*(getattr(AlertState, c) for c in columns)).where(
            AlertState.rule_id.in_(rule_ids)
        )
        rows = session.execute(query).all()
    states = pd.DataFrame([tuple(row) for row in rows], columns=columns)
    for name in ("rule_updated_at", "true_since", "last_fired_at", "last_data_ts"):
        states[name] = pd.to_datetime(states[name], utc=True)
    states["condition_true"] = states["condition_true"].astype("boolean")
    return states


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _records(frame: pd.DataFrame) -> Iterator[Any]:
    """The rows of ``frame`` as named tuples (attributes by column name)."""
    yield from frame.itertuples(index=False)


def _instant(value: Any) -> dt.datetime | None:
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _write_states(session: Session, decided: pd.DataFrame, now: dt.datetime) -> None:
    changed = decided[decided["changed"]].sort_values(["rule_id", "asset_id"])
    if changed.empty:
        return
    rows = [
        {
            "rule_id": int(row.rule_id),
            "asset_id": row.asset_id,
            "rule_updated_at": _instant(row.updated_at),
            "condition_true": bool(row.condition),
            "true_since": _instant(row.true_since),
            "last_fired_at": _instant(row.last_fired_at),
            "last_data_ts": _instant(row.data_ts),
            "evaluated_at": now,
        }
        for row in _records(changed)
    ]
    # Multi-row statements: one round trip per chunk, not per state (within SQLite's limit
    # of bound parameters).
    for first in range(0, len(rows), STATES_PER_STATEMENT):
        statement = _insert(session)(AlertState).values(rows[first : first + STATES_PER_STATEMENT])
        keep = {c: statement.excluded[c] for c in (*_STATE_COLUMNS, "evaluated_at")}
        session.execute(
            statement.on_conflict_do_update(index_elements=["rule_id", "asset_id"], set_=keep)
        )


def observed_values(row: Any, extras: dict[str, Any]) -> dict[str, Any]:
    """What a firing stores: the value under its kind's name, the rule's level or size, the
    window, the served instant, and the kind's ``extras`` (JSON-safe)."""
    kind = Kind(row.condition_kind)
    observed: dict[str, Any] = {VALUE_NAMES[kind]: float(row.value)}
    if kind in _LEVEL_KINDS:
        observed |= {"direction": row.direction, "level": float(row.level)}
    else:
        observed |= {"move": row.move, "threshold": float(row.size)}
    if kind in _WINDOWED:
        observed[_WINDOWED[kind]] = int(row.window)
    for name, value in extras.items():
        observed[name] = _json_safe(value)
    observed["data_ts"] = pd.Timestamp(row.data_ts).isoformat()
    return observed


def _json_safe(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value)
    return value if isinstance(value, int | str | bool) else str(value)


def _write_firings(
    session: Session,
    decided: pd.DataFrame,
    observations: Observations,
    report: EvaluationReport,
    announce: Announce,
) -> None:
    """Insert the firings in one statement (a conflict, a firing another evaluator recorded,
    inserts nothing and is not announced again), then announce each one recorded."""
    firing = decided[decided["fire"]].sort_values(["rule_id", "asset_id"])
    if firing.empty:
        return
    # Each kind's extras by observation row, read out of their frames once.
    extras = {
        kind.value: frame[list(EXTRAS[kind])].to_dict("records")
        for kind, frame in observations.frames.items()
    }
    values = [
        {
            "rule_id": int(row.rule_id),
            "user_id": int(row.user_id),
            "asset_id": row.asset_id,
            "condition_kind": row.condition_kind,
            "data_ts": _instant(row.data_ts),
            "fired_at": report.now,
            "observed": observed_values(row, extras[row.condition_kind][row.observed_row]),
        }
        for row in _records(firing)
    ]
    statement = (
        _insert(session)(AlertFiring)
        .on_conflict_do_nothing(index_elements=["rule_id", "asset_id", "data_ts"])
        .returning(AlertFiring.id, AlertFiring.rule_id, AlertFiring.asset_id)
    )
    ids = {(rule, asset): id_ for id_, rule, asset in session.execute(statement, values)}
    report.duplicates = len(values) - len(ids)
    rules = _typed_rules(session, {rule_id for rule_id, _ in ids})
    recorded = [
        (RecordedFiring(id=ids[key], **value), rules[value["rule_id"]])
        for value in values
        if (key := (value["rule_id"], value["asset_id"])) in ids
    ]  # a firing not among them another evaluator recorded: it announced it too
    report.fired = sorted(firing.id for firing, _ in recorded)
    announce(session, recorded)


def _typed_rules(session: Session, rule_ids: set[int]) -> dict[int, Rule]:
    """The typed rules of ``rule_ids`` (what notifications are written from), read at once."""
    query = select(AlertRule).where(AlertRule.id.in_(sorted(rule_ids)))
    return {row.id: to_rule(row) for row in session.scalars(query)}
