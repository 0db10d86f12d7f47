"""Who may see an event: the one rule the WebSocket and the Server-Sent Events streams share.

* An event with a ``user_id`` (an alert firing, a portfolio change) reaches that user only,
  admins included: nobody reads another user's alerts.
* A ``price_update`` of an intraday bar (1m, 5m, 1h) carries what the tier matrix
  (:mod:`api.security.tiers`) grants as :attr:`~api.security.tiers.Feature.INTRADAY_BARS`
  only: a tier without it receives the updates of daily bars.
* Everything else reaches every authenticated client that subscribed to its type.
"""

from __future__ import annotations

from typing import Protocol

from api.accounts.principal import Principal
from api.events.bus import EventType
from api.security.tiers import INTRADAY_RESOLUTIONS, Feature, tier_of


class Visible(Protocol):
    @property
    def type(self) -> EventType: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def resolution(self) -> str | None: ...


def may_see(principal: Principal, event: Visible) -> bool:
    if event.user_id is not None:
        return event.user_id == principal.user_id
    if event.type is EventType.PRICE_UPDATE and event.resolution in INTRADAY_RESOLUTIONS:
        return Feature.INTRADAY_BARS in tier_of(principal.role).features
    return True
