"""Which webhook URLs the platform may call (a guard against SSRF).

A store's endpoint must not make the platform call its own network: every
address the host resolves to must be public. Checked when an endpoint is
registered and again before each delivery, as DNS can change. The operator
setting ``WEBHOOK_ALLOW_PRIVATE_TARGETS=true`` (``config.allow_private_targets``,
passed in as ``allow_private``) lifts the address checks (a local receiver
in tests or development) but two: the cloud metadata addresses stay
refused, as do the URL checks.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Callable
from urllib.parse import urlsplit

from seedwork.errors import InvalidCommand

METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: the IPv4 address is in the last 32 bits

Resolver = Callable[..., list]


class Unresolvable(InvalidCommand):
    """The host's name did not resolve: refused at registration, retried at delivery."""


def unsafe(reason: str, error: type[InvalidCommand] = InvalidCommand) -> InvalidCommand:
    """A URL refused, the reason on its ``url`` field."""
    return error("unsafe_url", f"url: {reason}", {"url": [reason]})


def check_url(url: str, allow_private: bool, resolve: Resolver | None = None) -> str:
    """``url`` when the platform may POST to it, else ``InvalidCommand("unsafe_url")`` naming ``url``.

    ``resolve`` is ``socket.getaddrinfo`` unless a test passes another."""
    checked_addresses(url, allow_private, resolve)
    return url


def checked_addresses(url: str, allow_private: bool, resolve: Resolver | None = None) -> list[str]:
    """The addresses to connect to for ``url``, checked as ``check_url`` says,
    IPv4 first (many networks have no IPv6 route). A delivery connects only to
    these (DNS asked once): a name that answered public addresses to the check
    cannot send the POST elsewhere. Empty only where private targets are
    allowed and the name did not resolve."""
    if not isinstance(url, str) or not url.strip():
        raise unsafe("must be an http or https URL")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in url):
        raise unsafe("must not contain spaces, backslashes or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise unsafe(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise unsafe("must use http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise unsafe("must not contain a user name or password")
    host = parts.hostname
    if not host:
        raise unsafe("must name a host")
    try:
        found = (resolve or socket.getaddrinfo)(host, port or (443 if parts.scheme == "https" else 80),
                                                type=socket.SOCK_STREAM)
    except UnicodeError as exc:  # no DNS name at all: waiting will not fix it
        raise unsafe(f"host {host} is not a valid name ({exc})") from None
    except OSError as exc:
        if allow_private:
            return []  # development: a name that resolves later, the delivery's own check decides
        raise unsafe(f"host {host} does not resolve ({exc})", Unresolvable) from None
    addresses = [entry[4][0] for entry in found]
    if not addresses and not allow_private:
        raise unsafe(f"host {host} does not resolve", Unresolvable)
    for address in sorted(set(addresses)):
        reason = _metadata(address) if allow_private else _private(address)
        if reason:
            raise unsafe(f"host {host} resolves to {reason} address {address}")
    return sorted(dict.fromkeys(addresses), key=lambda a: ":" in a)  # stable: IPv4, then IPv6


def _metadata(text: str) -> str | None:
    """"a cloud metadata" for those addresses, written plainly or inside IPv6; else None."""
    reason = _private(text)
    return reason if reason and "metadata" in reason else None


def _private(text: str) -> str | None:
    """Why ``text`` (an address from getaddrinfo) is not a public address, or None."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return "an unparsable"
    if address in METADATA:
        return "a cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            reason = _private(str(embedded))
            return reason and f"an IPv4-embedding ({reason.removeprefix('a ').removeprefix('an ')})"
        if address in NAT64_WELL_KNOWN or address in NAT64_LOCAL:  # NAT64 of an IPv4 address
            reason = _private(str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
            return reason and f"a NAT64 ({reason.removeprefix('a ').removeprefix('an ')})"
    checks = (
        ("is_loopback", "a loopback"), ("is_unspecified", "an unspecified"), ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"), ("is_reserved", "a reserved"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED:
        return "a shared (carrier-grade NAT)"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "a unique-local"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fec0::/10"):
        return "a site-local"
    if address.is_private or not address.is_global:
        return "a private"
    return None
