"""IP allowlists for the SCIM endpoint and client-IP resolution behind reverse proxies.

An allowlist is free text an admin types: single addresses, CIDR blocks and dash ranges, separated by
commas and/or newlines. It is parsed once into sorted, merged integer intervals per address family, so a
membership check is a binary search rather than a loop over every entry.

Pure functions over the standard library ``ipaddress`` module; nothing here touches Flask.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "MAX_ENTRIES",
    "MAX_TEXT_LENGTH",
    "AllowlistEntry",
    "AllowlistError",
    "AllowlistProblem",
    "IpAllowlist",
    "parse_allowlist",
    "parse_ip",
    "resolve_client_ip",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Upper bound on entries; far beyond any sane allowlist, small enough to keep parsing cheap.
MAX_ENTRIES = 1000
#: Upper bound on the raw text; 1000 IPv6 ranges with separators fit comfortably.
MAX_TEXT_LENGTH = 100_000
# Longest valid entry is an IPv6 range with spaces around the dash (~85 chars); anything much longer is
# junk, and echoing it whole (parser messages repeat it too) would bloat the error message.
_MAX_ENTRY_LENGTH = 100

_SEPARATORS = re.compile(r"[,\r\n]+")
# Prefix under which IPv4 addresses are embedded in IPv6 (::ffff:a.b.c.d, RFC 4291 §2.5.5.2).
_V4_MAPPED_BASE = 0xFFFF_0000_0000


#: Why most bad entries are bad, in the settings page's words (the parser's own messages are not).
NOT_AN_ENTRY = "not an IP address, range or CIDR block"

#: Bad entries named one by one in an error; the rest are counted.
MAX_NAMED_PROBLEMS = 20


@dataclass(frozen=True)
class AllowlistProblem:
    """One bad entry and why, in words an admin reads."""

    entry: str
    reason: str

    def describe(self) -> str:
        shown = _display(self.entry)
        return f'"{shown}" is {self.reason}' if self.reason == NOT_AN_ENTRY else f'"{shown}": {self.reason}'


class AllowlistError(ValueError):
    """An allowlist text could not be parsed; ``entry`` is the first offending item (None for global
    limits) and ``problems`` every bad entry, in order."""

    def __init__(
        self, message: str, entry: str | None = None, problems: tuple[AllowlistProblem, ...] = ()
    ) -> None:
        super().__init__(message)
        self.entry = entry
        self.problems = problems

    def describe(self) -> str:
        """Every bad entry in one sentence (or the global limit that was hit), for the settings page."""
        if not self.problems:
            return str(self)
        named = [problem.describe() for problem in self.problems[:MAX_NAMED_PROBLEMS]]
        more = len(self.problems) - len(named)
        return "; ".join(named) + (f"; and {more} more" if more else "") + "."


@dataclass(frozen=True)
class AllowlistEntry:
    """One parsed entry: an inclusive integer interval within one address family, plus canonical text."""

    text: str
    version: int  # 4 or 6
    first: int
    last: int


@dataclass(frozen=True)
class _FamilyIndex:
    """Disjoint, sorted intervals of one family, ready for bisection."""

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    @classmethod
    def build(cls, intervals: Iterable[tuple[int, int]]) -> _FamilyIndex:
        merged: list[list[int]] = []
        for first, last in sorted(intervals):
            # Merge overlapping and directly adjacent intervals so each address falls in at most one.
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        return cls(tuple(m[0] for m in merged), tuple(m[1] for m in merged))

    def contains(self, value: int) -> bool:
        i = bisect.bisect_right(self.starts, value) - 1
        return i >= 0 and value <= self.ends[i]


@dataclass(frozen=True)
class IpAllowlist:
    """A parsed allowlist. An empty list allows every address (no restriction configured)."""

    entries: tuple[AllowlistEntry, ...] = ()
    _v4: _FamilyIndex = field(init=False, repr=False, compare=False)
    _v6: _FamilyIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: the derived indexes are set once here, bypassing the frozen __setattr__.
        v4 = _FamilyIndex.build((e.first, e.last) for e in self.entries if e.version == 4)
        v6 = _FamilyIndex.build((e.first, e.last) for e in self.entries if e.version == 6)
        object.__setattr__(self, "_v4", v4)
        object.__setattr__(self, "_v6", v6)

    @property
    def is_empty(self) -> bool:
        return not self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def normalized(self) -> str:
        """Canonical text to store and show back to the admin."""
        return ", ".join(e.text for e in self.entries)

    def allows(self, address: str | IPAddress) -> bool:
        """Whether ``address`` may connect; unparsable addresses are refused unless the list is empty."""
        if self.is_empty:
            return True
        ip = parse_ip(address) if isinstance(address, str) else address
        if ip is None:
            return False
        value = int(ip)
        if ip.version == 4:
            # An IPv4 client may also be listed in its IPv4-mapped IPv6 form.
            return self._v4.contains(value) or self._v6.contains(_V4_MAPPED_BASE | value)
        mapped = ip.ipv4_mapped
        if mapped is not None and self._v4.contains(int(mapped)):
            # Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; they must match IPv4 entries.
            return True
        return self._v6.contains(value)


def _display(entry: str) -> str:
    return entry if len(entry) <= _MAX_ENTRY_LENGTH else entry[:_MAX_ENTRY_LENGTH] + "…"


def _fail(entry: str, reason: str) -> AllowlistError:
    return AllowlistError(
        f'Invalid IP allowlist entry "{_display(entry)}": {reason}', entry, (AllowlistProblem(entry, reason),)
    )


def _address_reason(text: str) -> str:
    """Best human-readable reason why ``text`` is not an address (family-specific parser messages)."""
    if not text:
        return "an address is missing"
    if "*" in text:
        return "wildcards are not supported; use a CIDR block such as 10.0.0.0/8 or a range"
    # The parser's own messages ("Octet 300 (> 255) not permitted in ...") are not the product's words.
    return NOT_AN_ENTRY


def _parse_address(entry: str, text: str) -> IPAddress:
    if "%" in text:
        # Zone IDs are interface-local; they would make an allowlist host-specific and are never needed.
        raise _fail(entry, "IPv6 zone IDs (%...) are not supported")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _fail(entry, _address_reason(text)) from None


def _parse_network(entry: str) -> AllowlistEntry:
    address_text, _, prefix_text = entry.partition("/")
    address = _parse_address(entry, address_text)
    if not prefix_text.isdigit() or not prefix_text.isascii():
        raise _fail(entry, f'prefix length "{prefix_text}" is not a number')
    if int(prefix_text) > address.max_prefixlen:
        raise _fail(
            entry, f"prefix length must be between 0 and {address.max_prefixlen} for IPv{address.version}"
        )
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError:
        suggestion = ipaddress.ip_network(entry, strict=False)
        # Host bits set is almost always a typo; silently widening it could open far more than intended.
        raise _fail(
            entry,
            f'host bits are set; did you mean "{suggestion}" (the whole block) or "{address}" (one host)?',
        ) from None
    return AllowlistEntry(
        str(network), network.version, int(network.network_address), int(network.broadcast_address)
    )


def _parse_range(entry: str) -> AllowlistEntry:
    parts = entry.split("-")
    if len(parts) != 2:
        raise _fail(entry, 'a range must look like "start-end"')
    start_text, end_text = (p.strip() for p in parts)
    if not start_text or not end_text:
        raise _fail(entry, "a range needs both a start and an end address")
    start = _parse_address(entry, start_text)
    end = _parse_address(entry, end_text)
    if start.version != end.version:
        raise _fail(entry, "range start and end must both be IPv4 or both be IPv6")
    if start > end:
        raise _fail(entry, "range start is greater than range end")
    return AllowlistEntry(f"{start}-{end}", start.version, int(start), int(end))


def _parse_entry(entry: str) -> AllowlistEntry:
    if len(entry) > _MAX_ENTRY_LENGTH:
        raise _fail(entry, "too long to be an address, CIDR block or range (missing comma?)")
    if "-" in entry:
        return _parse_range(entry)
    if "/" in entry:
        return _parse_network(entry)
    address = _parse_address(entry, entry)
    return AllowlistEntry(str(address), address.version, int(address), int(address))


def parse_allowlist(text: str) -> IpAllowlist:
    """Parse admin-entered allowlist text; raises ``AllowlistError`` naming every bad entry.

    Duplicates (after canonicalisation) are dropped, first occurrence wins, so the stored text stays tidy.
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise AllowlistError(
            f"IP allowlist is too long ({len(text)} characters; the maximum is {MAX_TEXT_LENGTH})"
        )
    items = [item.strip() for item in _SEPARATORS.split(text)]
    items = [item for item in items if item]
    if len(items) > MAX_ENTRIES:
        raise AllowlistError(f"IP allowlist has {len(items)} entries; the maximum is {MAX_ENTRIES}")
    entries: dict[str, AllowlistEntry] = {}
    failures: list[AllowlistError] = []
    for item in items:
        try:
            parsed = _parse_entry(item)
        except AllowlistError as exc:  # keep going: the admin fixes every bad entry in one go
            failures.append(exc)
            continue
        entries.setdefault(parsed.text, parsed)
    if failures:
        first = failures[0]
        raise AllowlistError(
            str(first), first.entry, tuple(problem for exc in failures for problem in exc.problems)
        )
    return IpAllowlist(tuple(entries.values()))


def parse_ip(value: str) -> IPAddress | None:
    """Parse one address as found in a socket peer or proxy header; ports and brackets are stripped.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]`` and ``[2001:db8::1]:443``.
    Returns None for anything else, including scoped (``%zone``) addresses.
    """
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        text = host
    elif text.count(":") == 1:
        # Exactly one colon can only be IPv4 with a port; IPv6 always has at least two.
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
        text = host
    if "%" in text or not text.isascii():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive, unlike werkzeug's Headers; HTTP header names are not.
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _from_forwarded_chain(value: str, trusted_proxies: IpAllowlist) -> str | None:
    hops = [hop.strip() for hop in value.split(",")]
    leftmost: IPAddress | None = None
    # Only the right end of the chain was appended by our own proxies; everything to the left of the first
    # untrusted hop was supplied by the client and may be forged.
    for hop in reversed(hops):
        ip = parse_ip(hop)
        if ip is None:
            # A malformed hop before we reached an untrusted one means we cannot tell who the client is.
            return None
        if not trusted_proxies.allows(ip):
            return str(ip)
        leftmost = ip
    return str(leftmost) if leftmost is not None else None


def resolve_client_ip(
    remote_addr: str | None,
    headers: Mapping[str, str],
    trusted_proxies: IpAllowlist | None,
    *,
    header_names: Sequence[str] = ("X-Forwarded-For",),
) -> str | None:
    """Return the client address to check against the allowlist.

    Headers are honoured only when the immediate peer is a trusted proxy, since anyone can send them.
    ``X-Forwarded-For`` is walked right to left and yields the rightmost untrusted hop (the leftmost if all
    hops are trusted); any other header is treated as a single address. Headers are tried in order;
    missing or garbage values fall through to the next header and finally to ``remote_addr``.
    """
    if trusted_proxies is None or trusted_proxies.is_empty or remote_addr is None:
        return remote_addr
    peer = parse_ip(remote_addr)
    if peer is None or not trusted_proxies.allows(peer):
        return remote_addr
    for name in header_names:
        value = _header(headers, name)
        if not value or not value.strip():
            continue
        if name.lower() == "x-forwarded-for":
            resolved = _from_forwarded_chain(value, trusted_proxies)
        else:
            ip = parse_ip(value)
            resolved = str(ip) if ip is not None else None
        if resolved is not None:
            return resolved
    return remote_addr
