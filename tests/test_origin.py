"""Tests for service-origin normalisation and comparison."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_plugin.access.origin import MAX_ORIGIN_LENGTH, normalize_origin, origins_match, validate_origin


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # scheme, host case and trailing slash do not matter
        ("example.com", "example.com"),
        ("EXAMPLE.COM", "example.com"),
        ("https://Example.com/", "example.com"),
        ("http://example.com", "example.com"),
        ("HTTPS://EXAMPLE.COM//", "example.com"),
        ("  https://okta.example.com/  ", "okta.example.com"),
        ("example.com/", "example.com"),
        # ports are kept
        ("https://Example.com:8443/", "example.com:8443"),
        ("example.com:8443", "example.com:8443"),
        # paths keep their case; only the trailing slash goes
        ("https://Example.com/Tenant/ABC/", "example.com/Tenant/ABC"),
        ("EXAMPLE.com/Tenant", "example.com/Tenant"),
        ("https://example.com:444/scim/v2", "example.com:444/scim/v2"),
        ("https://example.com?Tenant=A", "example.com?Tenant=A"),
        # free strings
        ("my-idp", "my-idp"),
        ("My-IdP", "my-idp"),
        ("urn:Okta:Tenant", "urn:okta:tenant"),
        ("Ünïcode.Example", "ünïcode.example"),
        ("custom+scheme://Host", "host"),
    ],
)
def test_normalize(value: str, expected: str) -> None:
    assert normalize_origin(value) == expected
    # Normalisation is idempotent, so stored values can be re-normalised safely.
    assert normalize_origin(expected) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\n\t", "empty"),
        ("exa mple.com", "whitespace"),
        ("https://example.com/a b", "whitespace"),
        ("example.com\u00a0x", "whitespace"),
        ("example\x00.com", "control"),
        ("example.com\x7f", "control"),
        ("exa\u200bmple.com", "control"),
        ("example\tcom", "control"),
        ("a" * (MAX_ORIGIN_LENGTH + 1), "at most 255"),
        ("https://", "no host"),
        ("https:///path", "no host"),
        ("/", "empty"),
        ("///", "empty"),
    ],
)
def test_normalize_invalid(value: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        normalize_origin(value)


def test_max_length_is_accepted() -> None:
    value = "a" * MAX_ORIGIN_LENGTH
    assert normalize_origin(value) == value


@pytest.mark.parametrize(
    ("stored", "presented", "matches"),
    [
        ("example.com", "https://Example.com/", True),
        ("example.com", "example.com", True),
        ("example.com", "EXAMPLE.COM", True),
        ("example.com", "http://example.com", True),
        ("example.com", "example.org", False),
        ("example.com", "example.com:443", False),
        ("example.com", "example.com/tenant", False),
        ("example.com/Tenant", "https://EXAMPLE.com/Tenant/", True),
        ("example.com/Tenant", "example.com/tenant", False),
        ("my-idp", "MY-IDP", True),
        ("example.com", None, False),
        ("example.com", "", False),
        ("example.com", "exa mple.com", False),
        ("example.com", "x" * 1000, False),
        ("example.com", "\ud800", False),
    ],
)
def test_origins_match(stored: str, presented: str | None, matches: bool) -> None:
    assert origins_match(stored, presented) is matches


@settings(deadline=None)
@given(st.text(max_size=300))
def test_normalize_arbitrary_text(value: str) -> None:
    try:
        normalized = normalize_origin(value)
    except ValueError:
        assert origins_match("example.com", value) is False
        return
    assert normalize_origin(normalized) == normalized
    assert origins_match(normalized, value)


@pytest.mark.parametrize(
    "value", ["<script>alert(1)</script>", 'a"b', "a'b", "idp`x", "a{b}", "a|b", "a\\b", "a^b"]
)
def test_characters_no_origin_contains_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        normalize_origin(value)
    assert not origins_match("example.com", value)


# --- what an admin may save ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "saved"),
    [
        ("idp.example.com", "idp.example.com"),
        ("IdP.Example.COM", "idp.example.com"),
        ("idp.example.com:8443", "idp.example.com:8443"),
        ("https://Okta.Example.com/", "okta.example.com"),
        # a URL's origin is taken: path, query and fragment go
        ("https://okta.example.com:8443/app/scim?x=1#top", "okta.example.com:8443"),
        ("http://idp.example.com/tenant", "idp.example.com"),
        ("idp.example.com/", "idp.example.com"),
        ("my-idp", "my-idp"),
        ("localhost:5000", "localhost:5000"),
        ("Bücher.Example", "bücher.example"),  # IDNA
        ("203.0.113.7", "203.0.113.7"),
        ("[2001:db8::1]:8443", "[2001:db8::1]:8443"),
    ],
)
def test_validate_accepts_hosts_host_ports_and_http_urls(value: str, saved: str) -> None:
    assert validate_origin(value) == saved
    # What is saved is matched by a request presenting it.
    assert normalize_origin(saved) == saved
    assert origins_match(saved, saved)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("idp_example!!", "is not a host name"),
        ("idp_example", "is not a host name"),
        ("urn:Okta:Tenant", "is not a host name"),
        ("a..b", "is not a host name"),
        ("-idp.example.com", "is not a host name"),
        ("10.0.0.300", "is not a host name"),
        ("x" * 64 + ".com", "is not a host name"),
        ("[::1", "is not a host name"),
        ("ftp://idp.example.com", "is not a web address"),
        ("idp.example.com:0", "from 1 to 65535"),
        ("idp.example.com:99999", "from 1 to 65535"),
        ("https://user:pw@idp.example.com", "user name or password"),
        ("https://", "no host"),
        ("exa mple.com", "whitespace"),
    ],
)
def test_validate_refuses_what_is_no_host_in_product_words(value: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        validate_origin(value)
    message = str(info.value)
    if "host name" in message:  # says which forms are accepted
        assert "host and port" in message and "http(s) URL" in message


@settings(deadline=None)
@given(st.text(max_size=80))
def test_validate_arbitrary_text_is_refused_or_matchable(value: str) -> None:
    try:
        saved = validate_origin(value)
    except ValueError:
        return
    assert validate_origin(saved) == saved
    assert origins_match(saved, saved)
