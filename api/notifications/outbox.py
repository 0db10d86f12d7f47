"""Writing the outbox: one notification row per channel of a firing's rule, with its message
rendered now, in the caller's transaction.

Evaluation records a firing and calls :func:`enqueue` before it commits, so the firing and its
notifications are stored together or not at all; the worker (:mod:`api.notifications.worker`)
delivers them later. Rendering at enqueue time means a delivery needs nothing but its row (an
edited or deleted rule changes no message already owed), and the delivery log shows exactly
what was sent.

Messages (the ``message`` column):

* webhook: the JSON body, shaped like the Standard Webhooks payload (``type``, ``timestamp``,
  ``data``); ``data`` holds the rule, the asset, the observed values and the data time;
* e-mail and Telegram: ``{"subject": …, "text": …}`` in plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts.tables import utcnow
from api.notifications.tables import DeliveryStatus, Notification
from pipelines.core.errors import NotFoundError
from pipelines.reference import get_reference_asset

#: The ``type`` of a webhook body announcing a firing.
EVENT_TYPE = "alert.triggered"
#: The field of each channel type (``api.alerts.rules.ChannelType``) that says where it goes.
DESTINATION_FIELDS = {"webhook": "url", "email": "address", "telegram": "chat_id"}


# The alerts layer sits above this one (evaluation calls :func:`enqueue`), so the firing and
# the rule are read through what they provide: ``api.alerts.tables.AlertFiring`` and
# ``api.alerts.rules.Rule`` satisfy these.
class Firing(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def asset_id(self) -> str: ...
    @property
    def condition_kind(self) -> str: ...
    @property
    def data_ts(self) -> dt.datetime: ...
    @property
    def fired_at(self) -> dt.datetime: ...
    @property
    def observed(self) -> dict[str, Any]: ...


class FiredRule(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str | None: ...
    @property
    def condition(self) -> BaseModel: ...
    @property
    def channels(self) -> Sequence[BaseModel]: ...


def destination(channel: dict[str, Any]) -> tuple[str, str]:
    """A channel's type and where it delivers (a URL, an address or a chat id): with the
    firing, the unique key of its notification."""
    kind = str(channel["type"])
    return kind, str(channel[DESTINATION_FIELDS[kind]])


def _asset(asset_id: str) -> dict[str, str]:
    try:
        asset = get_reference_asset(asset_id)
    except NotFoundError:  # an asset dropped from the catalog since: say what we know
        return {"id": asset_id, "symbol": asset_id.upper(), "name": asset_id}
    return {"id": asset.asset_id, "symbol": asset.symbol, "name": asset.name}


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def observed_words(observed: dict[str, Any]) -> str:
    """The observed values as "close 0.9931, threshold 0.995" (the keys are the evaluation's
    own: this renders whatever it recorded)."""
    parts = [f"{key.replace('_', ' ')} {_number(value)}" for key, value in observed.items()]
    return ", ".join(parts) or "no values recorded"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def condition_words(condition: dict[str, Any]) -> str:
    """A rule's condition as "price: direction below, level 0.995"."""
    kind = str(condition.get("kind", "condition")).replace("_", " ")
    parameters = [
        f"{key.replace('_', ' ')} {_number(value)}"
        for key, value in condition.items()
        if key != "kind"
    ]
    return f"{kind}: {', '.join(parameters)}" if parameters else kind


def render_text(firing: Firing, rule: FiredRule) -> dict[str, str]:
    """Subject and plain text of a mail or a Telegram message."""
    asset = _asset(firing.asset_id)
    # An unnamed rule is named by its description (api.alerts.service), so a name is there.
    title = rule.name or condition_words(rule.condition.model_dump(mode="json"))
    lines = [
        f'{asset["name"]} ({asset["symbol"]}): the rule "{title}" fired.',
        f"Condition: {condition_words(rule.condition.model_dump(mode='json'))}",
        f"Observed: {observed_words(firing.observed)}",
        f"Data time: {_iso(firing.data_ts)}",
        f"Fired at: {_iso(firing.fired_at)}",
        f"Rule id {rule.id}, firing id {firing.id}.",
    ]
    return {"subject": f"Alert: {title} ({asset['symbol']})", "text": "\n".join(lines)}


def render_webhook(firing: Firing, rule: FiredRule) -> dict[str, Any]:
    """The JSON body of a webhook (Standard Webhooks payload shape)."""
    text = render_text(firing, rule)
    return {
        "type": EVENT_TYPE,
        "timestamp": _iso(firing.fired_at),
        "data": {
            "firing_id": firing.id,
            "rule": {
                "id": rule.id,
                "name": rule.name,
                "condition": rule.condition.model_dump(mode="json"),
            },
            "asset": _asset(firing.asset_id),
            "condition_kind": firing.condition_kind,
            "observed": firing.observed,
            "data_ts": _iso(firing.data_ts),
            "fired_at": _iso(firing.fired_at),
            "subject": text["subject"],
            "text": text["text"],
        },
    }


def render(kind: str, firing: Firing, rule: FiredRule) -> dict[str, Any]:
    if kind == "webhook":
        return render_webhook(firing, rule)
    return render_text(firing, rule)


def enqueue(session: Session, firing: Firing, rule: FiredRule) -> list[Notification]:
    """Add the notifications of ``firing`` (one per channel of ``rule``) to the session.

    Idempotent: a channel that already has its row for this firing (the unique key: firing,
    channel, destination) gets none; returns the rows added (empty on a second call). Flushes
    but never commits: the caller's transaction stores the firing and its notifications
    together.
    """
    session.flush()  # a firing just added gets its id
    existing = {
        (channel, dest)
        for channel, dest in session.execute(
            select(Notification.channel, Notification.destination).where(
                Notification.firing_id == firing.id
            )
        )
    }
    added: list[Notification] = []
    for channel in rule.channels:
        kind, dest = destination(channel.model_dump(mode="json"))
        if (kind, dest) in existing:
            continue
        existing.add((kind, dest))
        row = Notification(
            firing_id=firing.id,
            user_id=firing.user_id,
            channel=kind,
            destination=dest,
            message=render(kind, firing, rule),
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=utcnow(),
        )
        session.add(row)
        added.append(row)
    if added:
        session.flush()
    return added
