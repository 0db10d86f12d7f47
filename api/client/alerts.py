"""``client.alerts`` (rules, firings, deliveries, the webhook secret) and ``client.events``
(the real-time channel, ``/events/stream``, as an iterator of :class:`Event`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from api.client.errors import StreamClosedError
from api.client.operations import When, operation
from api.client.resource import Resource
from api.client.results import Page, Result

EventType = Literal["price_update", "alert_triggered", "portfolio_update", "news_item"]

CREATE_RULE = operation("POST", "/alerts/rules")
RULES = operation("GET", "/alerts/rules", "limit", "offset", rows="rules")
RULE = operation("GET", "/alerts/rules/{rule_id}")
UPDATE_RULE = operation("PATCH", "/alerts/rules/{rule_id}")
DELETE_RULE = operation("DELETE", "/alerts/rules/{rule_id}")
FIRINGS = operation("GET", "/alerts/firings", "rule_id", "since", "limit", "offset", rows="firings")
PARSE = operation("POST", "/alerts/parse")
DELIVERIES = operation(
    "GET", "/alerts/deliveries", "firing_id", "status", "limit", rows="deliveries"
)
WEBHOOK_SECRET = operation("GET", "/alerts/webhook-secret")
ROTATE_WEBHOOK_SECRET = operation("POST", "/alerts/webhook-secret")
EVENT_STREAM = operation("GET", "/events/stream", "types", "max_seconds")


class Alerts(Resource):
    """Alert rules as docs/api.md ("Alerts") describes them: pass a rule as its JSON."""

    def create(self, rule: Mapping[str, Any]) -> Result:
        """A new rule (``{"target": …, "condition": …, "channels": […], …}``)."""
        return self._result(CREATE_RULE, json=dict(rule))

    def list(self, *, limit: int | None = None, offset: int = 0) -> Page:
        return self._page(RULES, None, {"limit": limit, "offset": offset})

    def get(self, rule_id: int) -> Result:
        return self._result(RULE, {"rule_id": rule_id})

    def update(self, rule_id: int, **changes: Any) -> Result:
        """Change the fields given, e.g. ``update(3, active=False)``."""
        return self._result(UPDATE_RULE, {"rule_id": rule_id}, json=changes)

    def delete(self, rule_id: int) -> None:
        self._nothing(DELETE_RULE, {"rule_id": rule_id})

    def firings(
        self,
        *,
        rule_id: int | None = None,
        since: When | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        query = {"rule_id": rule_id, "since": since, "limit": limit, "offset": offset}
        return self._page(FIRINGS, None, query)

    def parse(self, text: str) -> Result:
        """A rule read from a sentence ("tell me when USDC drops below 0.995")."""
        return self._result(PARSE, json={"text": text})

    def deliveries(
        self,
        *,
        firing_id: int | None = None,
        status: Literal["pending", "sending", "sent", "failed"] | None = None,
        limit: int | None = None,
    ) -> Result:
        query = {"firing_id": firing_id, "status": status, "limit": limit}
        return self._result(DELIVERIES, query=query)

    def webhook_secret(self) -> Result:
        """The secret that signs the caller's webhook deliveries."""
        return self._result(WEBHOOK_SECRET)

    def rotate_webhook_secret(self) -> Result:
        return self._result(ROTATE_WEBHOOK_SECRET)


@dataclass(frozen=True)
class Event:
    """One event of the real-time channel: its id (resume after it with ``last_event_id``),
    type, instant and payload (docs/api.md, "Real-time")."""

    id: int
    type: str
    ts: dt.datetime
    payload: dict[str, Any]


class Events(Resource):
    """``client.events``: the real-time channel over Server-Sent Events."""

    def stream(
        self,
        types: Iterable[EventType] | None = None,
        *,
        max_seconds: float | None = None,
        last_event_id: int | None = None,
    ) -> Iterator[Event]:
        """Events as they are published (``types``: all by default), until the API ends
        the stream (after ``max_seconds``); heartbeats skipped. With ``last_event_id`` the
        API first replays what came after it. The API ending the stream for a reason (a
        revoked credential) raises :class:`~api.client.errors.StreamClosedError`."""
        query = {"types": list(types) if types else None, "max_seconds": max_seconds}
        headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
        with self._transport.stream(EVENT_STREAM, query, headers) as response:
            yield from _events(response)


def _events(response: httpx.Response) -> Iterator[Event]:
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line:
            if not line.startswith(":"):  # a comment line is a heartbeat
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            continue
        if "data" in fields:
            message = json.loads(fields["data"])
            if fields.get("event") == "close":
                raise StreamClosedError(str(message.get("payload", {}).get("detail", "closed")))
            ts = dt.datetime.fromisoformat(message["ts"].replace("Z", "+00:00"))
            yield Event(int(fields.get("id", 0)), message["type"], ts, message["payload"])
        fields = {}
