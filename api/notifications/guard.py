"""The SSRF guard of webhook deliveries: a rule's URL must not reach the internal network.

A user writes the URL, the worker requests it from inside the deployment: without a guard a
rule could make the worker POST to ``http://127.0.0.1:…``, the cloud metadata address
(169.254.169.254) or a private service. The host is resolved when the delivery is made, every
address it resolves to is checked (loopback, private, link-local, multicast, reserved,
unspecified, shared and IPv4-mapped forms all refused), and the request then goes to the
address that was checked (pinned, with the original ``Host`` and TLS server name), so a DNS
answer that changes between the check and the connection (rebinding) cannot slip through.
``RWA_NOTIFY_ALLOW_PRIVATE_WEBHOOKS=true`` turns the refusal off (tests, closed networks).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(Exception):
    """The URL leads to an address webhooks may not reach (or is not a URL they can use)."""


class ResolutionError(Exception):
    """The host did not resolve (may be temporary: the delivery is retried)."""


@dataclass(frozen=True)
class Target:
    """Where to connect for a URL: the checked address, and what the request must name."""

    url: str
    host: str
    address: IpAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        return urlsplit(self.url).netloc


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(url: str, allow_private: bool) -> Target:
    """Check ``url``'s host; raises :class:`BlockedAddressError` or :class:`ResolutionError`."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise BlockedAddressError("not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise BlockedAddressError("credentials in the URL are not sent")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ResolutionError(f"{host} does not resolve ({error})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:  # pragma: no cover - getaddrinfo raises instead
        raise ResolutionError(f"{host} has no address")
    if not allow_private:
        blocked = [str(a) for a in addresses if not is_public(a)]
        if blocked:
            raise BlockedAddressError(
                f"{host} resolves to a non-public address ({', '.join(sorted(set(blocked)))})"
            )
    return Target(url, host, addresses[0])
