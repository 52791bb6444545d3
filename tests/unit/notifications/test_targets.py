"""Which webhook URLs the platform may call (services.notifications.targets):
the guard against a store's endpoint making the platform call its own network.
Name resolution is a fake with getaddrinfo's shape, so no DNS is asked."""
from __future__ import annotations

import socket

import pytest

from seedwork.errors import InvalidCommand
from services.notifications.targets import check_url

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


def resolving_to(*addresses: str, calls: list | None = None):
    """A stand-in for ``socket.getaddrinfo``: the host resolves to ``addresses``."""
    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if calls is not None:
            calls.append((host, port, type))
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]
    return resolve


def not_resolving(host, port, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def refusal(url: str, allow_private: bool = False, resolve=None) -> InvalidCommand:
    """The error ``check_url`` raises; it is always ``unsafe_url`` naming the field ``url``."""
    with pytest.raises(InvalidCommand) as info:
        check_url(url, allow_private, resolve=resolve or resolving_to(PUBLIC_V4))
    error = info.value
    assert error.code == "unsafe_url"
    assert list(error.errors) == ["url"] and len(error.errors["url"]) == 1
    assert error.detail == f"url: {error.errors['url'][0]}"
    return error


# --- what a public address may be -------------------------------------------------------


@pytest.mark.parametrize("url", ["https://hooks.shop.test/in", "http://hooks.shop.test:8080/in?x=1",
                                 "HTTPS://hooks.shop.test/in"])
def test_a_public_http_or_https_url_is_returned_unchanged(url):
    assert check_url(url, False, resolve=resolving_to(PUBLIC_V4)) == url


def test_a_host_with_public_v4_and_v6_addresses_is_accepted():
    url = "https://hooks.shop.test/in"
    assert check_url(url, False, resolve=resolving_to(PUBLIC_V4, PUBLIC_V6)) == url


def test_the_host_and_the_schemes_default_port_are_what_gets_resolved():
    calls = []
    check_url("https://hooks.shop.test/in", False, resolve=resolving_to(PUBLIC_V4, calls=calls))
    check_url("http://hooks.shop.test/in", False, resolve=resolving_to(PUBLIC_V4, calls=calls))
    check_url("http://hooks.shop.test:8443/in", False, resolve=resolving_to(PUBLIC_V4, calls=calls))
    assert calls == [("hooks.shop.test", 443, socket.SOCK_STREAM), ("hooks.shop.test", 80, socket.SOCK_STREAM),
                     ("hooks.shop.test", 8443, socket.SOCK_STREAM)]


# --- the URL itself ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://hooks.shop.test/in", "file:///etc/passwd", "gopher://hooks.shop.test/",
                                 "javascript:alert(1)", "hooks.shop.test/in", "//hooks.shop.test/in"])
def test_only_http_and_https_are_allowed(url):
    assert "http or https" in refusal(url).errors["url"][0]


@pytest.mark.parametrize("url", ["https://user:pass@hooks.shop.test/in", "https://user@hooks.shop.test/in",
                                 "https://:pass@hooks.shop.test/in", "https://127.0.0.1@hooks.shop.test/in"])
def test_a_user_name_or_password_in_the_url_is_refused(url):
    assert refusal(url).errors["url"] == ["must not contain a user name or password"]


@pytest.mark.parametrize("url", ["https://hooks.shop.test/in\r\nX-Injected: 1", "https://hooks.shop.test/\x00",
                                 "https://hooks.shop.test/a b", "https://hooks.shop.test\\@127.0.0.1/",
                                 "https://hooks.shop.test/\x7f", "https://hooks.shop.test/\tin"])
def test_spaces_backslashes_and_control_characters_are_refused(url):
    assert refusal(url).errors["url"] == ["must not contain spaces, backslashes or control characters"]


@pytest.mark.parametrize("url", ["", "   ", None, 42])
def test_something_that_is_not_a_url_is_refused(url):
    assert refusal(url).errors["url"] == ["must be an http or https URL"]


def test_a_port_out_of_range_is_refused():
    assert refusal("https://hooks.shop.test:99999/in").errors["url"][0].startswith("is not a valid URL")


def test_a_url_without_a_host_is_refused():
    assert refusal("https:///in").errors["url"] == ["must name a host"]


# --- addresses a store must not reach ------------------------------------------------------

NOT_PUBLIC = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "10.1.2.3": "private",
    "172.16.5.4": "private",
    "192.168.1.10": "private",
    "169.254.10.20": "link-local",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "fc00::1": "unique-local",
    "fd12:3456:789a::1": "unique-local",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "240.0.0.1": "reserved",
    "::ffff:127.0.0.1": "IPv4-embedding (loopback)",
    "::ffff:10.0.0.1": "IPv4-embedding (private)",
    "64:ff9b::7f00:1": "NAT64 (loopback)",
    "64:ff9b::a00:1": "NAT64 (private)",
    "64:ff9b:1::7f00:1": "NAT64 (loopback)",  # a local-use NAT64 prefix (RFC 8215)
    "fec0::1": "site-local",  # deprecated, but still routed inside some networks
    "2002:7f00:1::": "IPv4-embedding (loopback)",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::": "IPv4-embedding (private)",  # 6to4 of 192.168.1.1
    "169.254.169.254": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
}


@pytest.mark.parametrize("address", sorted(NOT_PUBLIC))
def test_a_host_resolving_to_a_non_public_address_is_refused(address):
    message = refusal("https://hooks.shop.test/in", resolve=resolving_to(address)).errors["url"][0]
    assert message.startswith("host hooks.shop.test resolves to ")
    assert NOT_PUBLIC[address] in message
    assert message.endswith(f" address {address}")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "169.254.169.254", "[::ffff:169.254.169.254]"])
def test_an_ip_literal_is_checked_like_any_host(host):
    literal = host.strip("[]")
    message = refusal(f"http://{host}/in", resolve=resolving_to(literal)).errors["url"][0]
    assert message.endswith(f"address {literal}")


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    """DNS answers several addresses and the connection may use any of them."""
    message = refusal("https://hooks.shop.test/in", resolve=resolving_to(PUBLIC_V4, "10.0.0.7", PUBLIC_V6))
    assert "10.0.0.7" in message.errors["url"][0]


def test_a_host_that_does_not_resolve_is_refused():
    message = refusal("https://nowhere.shop.test/in", resolve=not_resolving).errors["url"][0]
    assert message.startswith("host nowhere.shop.test does not resolve")


def test_a_host_that_resolves_to_nothing_is_refused():
    assert refusal("https://hooks.shop.test/in", resolve=resolving_to()).errors["url"] == [
        "host hooks.shop.test does not resolve"]


# --- WEBHOOK_ALLOW_PRIVATE_TARGETS: a local receiver in development -------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.10", "fd12:3456:789a::1",
                                     "169.254.10.20", "100.64.0.1", "::ffff:127.0.0.1"])
def test_allowing_private_targets_accepts_loopback_and_private_addresses(address):
    url = "http://receiver.local:9000/hook"
    assert check_url(url, True, resolve=resolving_to(address)) == url


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254",
                                     "64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "2002:a9fe:a9fe::"])
def test_allowing_private_targets_still_refuses_the_cloud_metadata_addresses(address):
    """The metadata service hands out the platform's credentials: never reachable."""
    message = refusal("http://receiver.local/hook", allow_private=True, resolve=resolving_to(address))
    assert "cloud metadata" in message.errors["url"][0]


def test_allowing_private_targets_still_refuses_a_metadata_address_among_others():
    refusal("http://receiver.local/hook", allow_private=True, resolve=resolving_to("127.0.0.1", "169.254.169.254"))


@pytest.mark.parametrize("url", ["ftp://receiver.local/", "http://u:p@receiver.local/", "http://receiver.local/ x"])
def test_allowing_private_targets_still_checks_the_url(url):
    refusal(url, allow_private=True, resolve=resolving_to("127.0.0.1"))


def test_allowing_private_targets_accepts_a_name_that_does_not_resolve_yet():
    """Development: the receiver's container may start later; each delivery checks again."""
    assert check_url("http://receiver:9000/hook", True, resolve=not_resolving) == "http://receiver:9000/hook"


def test_the_addresses_to_connect_to_are_the_ones_the_check_approved_ipv4_first():
    """A delivery connects only to what the check saw, so a second DNS answer
    (a rebinding to 127.0.0.1) is never asked for; IPv4 first, as many
    networks have no IPv6 route."""
    from services.notifications.targets import checked_addresses

    assert checked_addresses("https://hooks.shop.test/in", False,
                             resolving_to("2606:2800:220:1::1", "93.184.216.34", "93.184.216.35", "93.184.216.34")) \
        == ["93.184.216.34", "93.184.216.35", "2606:2800:220:1::1"]
    assert checked_addresses("http://receiver.local/in", True, resolving_to("127.0.0.1")) == ["127.0.0.1"]
    assert checked_addresses("http://receiver.local/in", True, not_resolving) == []
