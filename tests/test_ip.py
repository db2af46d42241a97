"""Tests for IP allowlist parsing, matching and client-IP resolution."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_plugin.ip import (
    MAX_ENTRIES,
    MAX_NAMED_PROBLEMS,
    MAX_TEXT_LENGTH,
    AllowlistError,
    IpAllowlist,
    parse_allowlist,
    parse_ip,
    resolve_client_ip,
)

# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("", ""),
        ("   \n , ,\n", ""),
        ("10.0.0.1", "10.0.0.1"),
        ("  10.0.0.1  ", "10.0.0.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::1", "::1"),
        ("::ffff:10.0.0.1", "::ffff:a00:1"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.1/32", "10.0.0.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:0DB8::/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("10.0.0.1-10.0.0.50", "10.0.0.1-10.0.0.50"),
        ("10.0.0.1 - 10.0.0.50", "10.0.0.1-10.0.0.50"),
        ("10.0.0.1  -10.0.0.50", "10.0.0.1-10.0.0.50"),
        ("10.0.0.7-10.0.0.7", "10.0.0.7-10.0.0.7"),
        ("2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff"),
        ("2001:db8::1 - 2001:DB8::FF", "2001:db8::1-2001:db8::ff"),
        ("10.0.0.1,10.0.0.2", "10.0.0.1, 10.0.0.2"),
        ("10.0.0.1\n10.0.0.2", "10.0.0.1, 10.0.0.2"),
        ("10.0.0.1\r\n10.0.0.2\r\n", "10.0.0.1, 10.0.0.2"),
        ("10.0.0.1,\n\n 192.168.0.0/16 ,\n2001:db8::/48", "10.0.0.1, 192.168.0.0/16, 2001:db8::/48"),
        ("10.0.0.1, 10.0.0.1", "10.0.0.1"),
        ("2001:db8::1, 2001:DB8:0::1", "2001:db8::1"),
        ("10.0.0.0/8, 10.0.0.0/8, 10.0.0.1", "10.0.0.0/8, 10.0.0.1"),
    ],
)
def test_parse_valid(text: str, normalized: str) -> None:
    allowlist = parse_allowlist(text)
    assert allowlist.normalized() == normalized
    assert len(allowlist) == (normalized.count(",") + 1 if normalized else 0)
    assert allowlist.is_empty == (normalized == "")
    # Canonical text must be a fixed point, since it is what gets stored and re-parsed.
    assert parse_allowlist(allowlist.normalized()) == allowlist


@pytest.mark.parametrize(
    ("text", "entry", "fragment"),
    [
        ("abc", "abc", ""),
        ("xyz", "xyz", "not an IP address, range or CIDR block"),
        ("10.0.0.1-", "10.0.0.1-", "start and an end"),
        ("-10.0.0.1", "-10.0.0.1", "start and an end"),
        ("10.0.0.1-10.0.0.2-10.0.0.3", "10.0.0.1-10.0.0.2-10.0.0.3", "start-end"),
        ("10.0.0.5-10.0.0.1", "10.0.0.5-10.0.0.1", "greater than"),
        ("10.0.0.1-::1", "10.0.0.1-::1", "both be IPv4 or both be IPv6"),
        ("10.0.0.0/33", "10.0.0.0/33", "between 0 and 32"),
        ("2001:db8::/129", "2001:db8::/129", "between 0 and 128"),
        ("1.2.3.4/8", "1.2.3.4/8", 'did you mean "1.0.0.0/8"'),
        ("10.0.0.1/8", "10.0.0.1/8", "host bits"),
        ("2001:db8::1/32", "2001:db8::1/32", 'did you mean "2001:db8::/32"'),
        ("300.1.1.1", "300.1.1.1", "300"),
        ("10.0.0.300", "10.0.0.300", "not an IP address, range or CIDR block"),
        ("10.0.0.1/abc", "10.0.0.1/abc", "not a number"),
        ("10.0.0.1/", "10.0.0.1/", "not a number"),
        ("10.0.0.1/-8", "10.0.0.1/-8", ""),
        ("10.0.0.0/8/8", "10.0.0.0/8/8", ""),
        ("*", "*", "wildcards are not supported"),
        ("10.0.0.*", "10.0.0.*", "wildcards"),
        ("10.0.0", "10.0.0", ""),
        ("010.0.0.1", "010.0.0.1", ""),
        ("localhost", "localhost", "not an IP address, range or CIDR block"),
        ("fe80::1%eth0", "fe80::1%eth0", "zone"),
        ("[2001:db8::1]", "[2001:db8::1]", ""),
        ("2001:db8:::1", "2001:db8:::1", ""),
        ("1.2.3.4 5.6.7.8", "1.2.3.4 5.6.7.8", ""),
        ("1.2.3.4; DROP TABLE users", "1.2.3.4; DROP TABLE users", "not an IP address"),
        ("' OR '1'='1", "' OR '1'='1", ""),
        ("10.0.0.1, bogus, 10.0.0.2", "bogus", ""),
        ("10.0.0.1\n10.0.0.0/33", "10.0.0.0/33", ""),
    ],
)
def test_parse_invalid_names_entry(text: str, entry: str, fragment: str) -> None:
    with pytest.raises(AllowlistError) as info:
        parse_allowlist(text)
    assert info.value.entry == entry
    message = str(info.value)
    assert message.startswith(f'Invalid IP allowlist entry "{entry}": ')
    assert fragment in message
    assert isinstance(info.value, ValueError)


def test_parse_octet_message_names_the_entry_in_product_words() -> None:
    with pytest.raises(AllowlistError, match=r'"10\.0\.0\.300": not an IP address') as info:
        parse_allowlist("10.0.0.300")
    # Not the parser's own text ("Octet 300 (> 255) not permitted in '10.0.0.300'").
    assert "Octet" not in str(info.value) and "permitted" not in info.value.describe()


def test_every_bad_entry_is_named_in_order() -> None:
    with pytest.raises(AllowlistError) as info:
        parse_allowlist("10.0.0.300, 10.0.0.1\nfoo\n10.0.0.0/33, 10.0.0.*")
    assert info.value.entry == "10.0.0.300"
    assert [problem.entry for problem in info.value.problems] == [
        "10.0.0.300",
        "foo",
        "10.0.0.0/33",
        "10.0.0.*",
    ]
    assert info.value.describe() == (
        '"10.0.0.300" is not an IP address, range or CIDR block; '
        '"foo" is not an IP address, range or CIDR block; '
        '"10.0.0.0/33": prefix length must be between 0 and 32 for IPv4; '
        '"10.0.0.*": wildcards are not supported; use a CIDR block such as 10.0.0.0/8 or a range.'
    )


def test_many_bad_entries_are_counted_beyond_the_named_ones() -> None:
    with pytest.raises(AllowlistError) as info:
        parse_allowlist(", ".join(f"bad{i}" for i in range(MAX_NAMED_PROBLEMS + 5)))
    assert len(info.value.problems) == MAX_NAMED_PROBLEMS + 5
    described = info.value.describe()
    assert described.count("is not an IP address") == MAX_NAMED_PROBLEMS
    assert described.endswith("; and 5 more.")


def test_too_many_entries() -> None:
    ok = ", ".join(f"10.0.{i // 256}.{i % 256}" for i in range(MAX_ENTRIES))
    assert len(parse_allowlist(ok)) == MAX_ENTRIES
    with pytest.raises(AllowlistError, match=str(MAX_ENTRIES)) as info:
        parse_allowlist(ok + ", 192.168.0.1")
    assert info.value.entry is None


def test_text_too_long() -> None:
    with pytest.raises(AllowlistError, match="too long") as info:
        parse_allowlist(" " * (MAX_TEXT_LENGTH + 1))
    assert info.value.entry is None


def test_huge_entry_message_is_truncated() -> None:
    junk = "x" * 5000
    with pytest.raises(AllowlistError, match="too long") as info:
        parse_allowlist(junk)
    assert info.value.entry == junk
    assert len(str(info.value)) < 300


# --- matching --------------------------------------------------------------------------------------------

_LIST = parse_allowlist(
    "10.0.0.0/8, 192.168.1.10-192.168.1.20, 203.0.113.7, 2001:db8::/32, 2001:db9::10 - 2001:db9::20, ::1"
)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        # CIDR boundaries
        ("10.0.0.0", True),
        ("10.255.255.255", True),
        ("10.1.2.3", True),
        ("9.255.255.255", False),
        ("11.0.0.0", False),
        # range boundaries
        ("192.168.1.9", False),
        ("192.168.1.10", True),
        ("192.168.1.15", True),
        ("192.168.1.20", True),
        ("192.168.1.21", False),
        # single address
        ("203.0.113.7", True),
        ("203.0.113.6", False),
        ("203.0.113.8", False),
        # IPv6 CIDR and range
        ("2001:db8::", True),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", True),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", False),
        ("2001:DB8::abcd", True),
        ("2001:db9::f", False),
        ("2001:db9::10", True),
        ("2001:db9::20", True),
        ("2001:db9::21", False),
        ("::1", True),
        ("::2", False),
        # IPv4-mapped IPv6 matches IPv4 entries
        ("::ffff:10.0.0.1", True),
        ("::ffff:192.168.1.20", True),
        ("::ffff:192.168.1.21", False),
        ("::ffff:a00:1", True),
        # garbage is never allowed
        ("", False),
        ("abc", False),
        ("10.0.0.300", False),
        ("10.0.0.0/8", False),
        ("fe80::1%eth0", False),
        # whitespace and a port are tolerated (same parser as proxy headers)
        (" 10.0.0.1 ", True),
        ("10.0.0.1:443", True),
        ("[2001:db8::1]:443", True),
    ],
)
def test_allows(address: str, allowed: bool) -> None:
    assert _LIST.allows(address) is allowed


def test_allows_ip_objects() -> None:
    assert _LIST.allows(ipaddress.ip_address("10.9.9.9"))
    assert not _LIST.allows(ipaddress.ip_address("8.8.8.8"))
    assert _LIST.allows(ipaddress.ip_address("::ffff:203.0.113.7"))


def test_ipv4_matches_mapped_ipv6_entry() -> None:
    allowlist = parse_allowlist("::ffff:10.0.0.0/104")
    assert allowlist.allows("10.1.2.3")
    assert not allowlist.allows("11.1.2.3")


def test_empty_allowlist_allows_everything() -> None:
    empty = parse_allowlist("")
    assert empty == IpAllowlist()
    assert empty.is_empty
    assert len(empty) == 0
    assert empty.allows("8.8.8.8")
    assert empty.allows("2001:db8::1")


def test_overlapping_entries_merge_correctly() -> None:
    allowlist = parse_allowlist("10.0.0.0/24, 10.0.0.5-10.0.1.5, 10.0.1.6, 10.0.0.0/30")
    assert allowlist.allows("10.0.0.255")
    assert allowlist.allows("10.0.1.5")
    assert allowlist.allows("10.0.1.6")
    assert not allowlist.allows("10.0.1.7")
    assert len(allowlist) == 4


def test_many_entries_match() -> None:
    text = "\n".join(f"172.16.{i}.0/28" for i in range(MAX_ENTRIES // 4))
    allowlist = parse_allowlist(text)
    assert allowlist.allows("172.16.200.15")
    assert not allowlist.allows("172.16.200.16")


# --- property test against a naive reference --------------------------------------------------------------

# Small address spaces so random entries and addresses actually overlap.
_V4_BASE = int(ipaddress.IPv4Address("10.0.0.0"))
_V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))

_v4_addr = st.integers(0, 1023).map(lambda n: ipaddress.IPv4Address(_V4_BASE + n))
_v6_addr = st.integers(0, 1023).map(lambda n: ipaddress.IPv6Address(_V6_BASE + n))
_mapped_addr = _v4_addr.map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}"))
_any_addr = st.one_of(_v4_addr, _v6_addr, _mapped_addr)


def _network(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> str:
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


_entry = st.one_of(
    _any_addr.map(str),
    st.builds(_network, _v4_addr, st.integers(22, 32)),
    st.builds(_network, _v6_addr, st.integers(118, 128)),
    st.builds(_network, _mapped_addr, st.integers(118, 128)),
    st.tuples(_v4_addr, _v4_addr).map(lambda p: f"{min(p)} - {max(p)}"),
    st.tuples(_v6_addr, _v6_addr).map(lambda p: f"{min(p)}-{max(p)}"),
)


def _naive_allows(entries: list[str], address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if not entries:
        return True
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv4Address):
        candidates.append(ipaddress.IPv6Address(f"::ffff:{address}"))
    for entry in entries:
        if "-" in entry:
            start, end = (ipaddress.ip_address(p.strip()) for p in entry.split("-"))
            if any(c.version == start.version and start <= c <= end for c in candidates):  # type: ignore[operator]
                return True
        else:
            network = ipaddress.ip_network(entry)
            if any(c in network for c in candidates):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(_entry, max_size=12), addresses=st.lists(_any_addr, min_size=1, max_size=10))
def test_allows_matches_naive_reference(
    entries: list[str], addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
) -> None:
    allowlist = parse_allowlist("\n".join(entries))
    for address in addresses:
        assert allowlist.allows(address) is _naive_allows(entries, address)
        assert allowlist.allows(str(address)) is _naive_allows(entries, address)


@settings(deadline=None)
@given(st.text(max_size=200))
def test_parse_arbitrary_text_only_raises_allowlist_error(text: str) -> None:
    try:
        allowlist = parse_allowlist(text)
    except AllowlistError:
        return
    assert parse_allowlist(allowlist.normalized()) == allowlist


# --- parse_ip ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("1.2.3.4:", None),
        ("1.2.3.4:http", None),
        ("[2001:db8::1", None),
        ("[2001:db8::1]x", None),
        ("[2001:db8::1]:", None),
        ("fe80::1%eth0", None),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
    ],
)
def test_parse_ip(value: str, expected: str | None) -> None:
    parsed = parse_ip(value)
    assert (str(parsed) if parsed is not None else None) == expected


# --- resolve_client_ip ------------------------------------------------------------------------------------

_PROXIES = parse_allowlist("10.0.0.0/8, 2001:db8:ffff::/48")
_XFF = "X-Forwarded-For"


@pytest.mark.parametrize(
    ("remote_addr", "headers", "header_names", "expected"),
    [
        # Untrusted peer: headers are spoofable and ignored.
        ("203.0.113.5", {_XFF: "198.51.100.1"}, (_XFF,), "203.0.113.5"),
        ("203.0.113.5", {"X-Real-IP": "198.51.100.1"}, ("X-Real-IP",), "203.0.113.5"),
        # Trusted proxy, single hop.
        ("10.0.0.2", {_XFF: "198.51.100.1"}, (_XFF,), "198.51.100.1"),
        # Client-supplied junk on the left is ignored: rightmost untrusted wins.
        ("10.0.0.2", {_XFF: "1.1.1.1, 198.51.100.1"}, (_XFF,), "198.51.100.1"),
        ("10.0.0.2", {_XFF: "garbage, 198.51.100.1"}, (_XFF,), "198.51.100.1"),
        # Several trusted proxies in the chain are skipped.
        ("10.0.0.2", {_XFF: "1.1.1.1, 198.51.100.1, 10.0.0.9, 10.0.0.3"}, (_XFF,), "198.51.100.1"),
        # All hops trusted: the leftmost is the best guess.
        ("10.0.0.2", {_XFF: "10.0.0.7, 10.0.0.3"}, (_XFF,), "10.0.0.7"),
        # Garbage at the right end: header unusable, fall back to the peer.
        ("10.0.0.2", {_XFF: "198.51.100.1, garbage"}, (_XFF,), "10.0.0.2"),
        ("10.0.0.2", {_XFF: ""}, (_XFF,), "10.0.0.2"),
        ("10.0.0.2", {_XFF: " , "}, (_XFF,), "10.0.0.2"),
        ("10.0.0.2", {}, (_XFF,), "10.0.0.2"),
        # Ports and brackets are stripped.
        ("10.0.0.2", {_XFF: "198.51.100.1:5678"}, (_XFF,), "198.51.100.1"),
        ("10.0.0.2", {_XFF: "[2001:db8::1]:443"}, (_XFF,), "2001:db8::1"),
        # IPv6 peer and chain.
        ("2001:db8:ffff::1", {_XFF: "2001:db8::abcd, 2001:db8:ffff::2"}, (_XFF,), "2001:db8::abcd"),
        ("[2001:db8:ffff::1]:8080", {_XFF: "2001:db8::abcd"}, (_XFF,), "2001:db8::abcd"),
        # IPv4-mapped peer counts as its IPv4 address.
        ("::ffff:10.0.0.2", {_XFF: "198.51.100.1"}, (_XFF,), "198.51.100.1"),
        # Header names are case-insensitive even for plain dicts.
        ("10.0.0.2", {"x-forwarded-for": "198.51.100.1"}, (_XFF,), "198.51.100.1"),
        # Single-value headers, tried in order; garbage falls through.
        ("10.0.0.2", {"X-Origin-Request": "198.51.100.7"}, ("X-Origin-Request", _XFF), "198.51.100.7"),
        (
            "10.0.0.2",
            {"X-Origin-Request": "nonsense", _XFF: "198.51.100.1"},
            ("X-Origin-Request", _XFF),
            "198.51.100.1",
        ),
        ("10.0.0.2", {"X-Real-IP": "1.2.3.4, 5.6.7.8"}, ("X-Real-IP",), "10.0.0.2"),
        ("10.0.0.2", {"X-Real-IP": "[2001:db8::5]:443"}, ("X-Real-IP",), "2001:db8::5"),
        # No headers configured.
        ("10.0.0.2", {_XFF: "198.51.100.1"}, (), "10.0.0.2"),
        # Unparsable or missing peer.
        ("not-an-ip", {_XFF: "198.51.100.1"}, (_XFF,), "not-an-ip"),
        (None, {_XFF: "198.51.100.1"}, (_XFF,), None),
    ],
)
def test_resolve_client_ip(
    remote_addr: str | None, headers: dict[str, str], header_names: tuple[str, ...], expected: str | None
) -> None:
    assert resolve_client_ip(remote_addr, headers, _PROXIES, header_names=header_names) == expected


@pytest.mark.parametrize("trusted", [None, parse_allowlist("")])
def test_resolve_without_trusted_proxies_uses_peer(trusted: IpAllowlist | None) -> None:
    # An empty allowlist "allows all" for access control, but must not mean "trust every proxy".
    headers = {_XFF: "198.51.100.1", "X-Real-IP": "198.51.100.2"}
    assert (
        resolve_client_ip("203.0.113.5", headers, trusted, header_names=(_XFF, "X-Real-IP")) == "203.0.113.5"
    )


def test_resolve_default_header_is_xff() -> None:
    assert resolve_client_ip("10.0.0.2", {_XFF: "198.51.100.1"}, _PROXIES) == "198.51.100.1"
