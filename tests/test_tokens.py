"""Tests for SCIM bearer token issuing, parsing and verification."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_plugin.access.tokens import (
    MAX_TOKEN_LENGTH,
    TOKEN_PREFIX,
    IssuedToken,
    PresentedToken,
    TokenInvalid,
    compute_verifier,
    issue_token,
    mask,
    parse_authorization_header,
    parse_token,
    verify_secret,
)

KEYS = ["current-secret-key"]
KEY_A = "old-app-secret"
KEY_B = "new-app-secret"


@pytest.fixture
def issued() -> IssuedToken:
    return issue_token(KEYS)


def _swap_char(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_round_trip(issued: IssuedToken) -> None:
    presented = parse_token(issued.token, KEYS)
    assert presented.token_id == issued.token_id
    assert verify_secret(presented.secret, issued.verifier)


def test_token_format(issued: IssuedToken) -> None:
    assert issued.token.startswith("scim_")
    assert re.fullmatch(r"scim_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}", issued.token)
    assert len(issued.token) <= MAX_TOKEN_LENGTH
    assert issued.token[len(TOKEN_PREFIX) :].split(".")[0] == issued.token_id
    assert issued.hint == issued.token[-4:]


def test_tokens_are_unique() -> None:
    tokens = [issue_token(KEYS) for _ in range(50)]
    assert len({t.token for t in tokens}) == 50
    assert len({t.token_id for t in tokens}) == 50


def test_verifier_does_not_reveal_secret(issued: IssuedToken) -> None:
    secret = parse_token(issued.token, KEYS).secret
    assert issued.verifier != issued.token
    assert secret not in issued.verifier
    assert issued.verifier not in issued.token
    assert re.fullmatch(r"[0-9a-f]{64}", issued.verifier)
    assert issued.verifier == compute_verifier(secret)


def test_repr_hides_token(issued: IssuedToken) -> None:
    secret = parse_token(issued.token, KEYS).secret
    assert secret not in repr(issued)
    assert secret not in repr(PresentedToken(issued.token_id, secret))


def test_signature_binds_token_id(issued: IssuedToken) -> None:
    _, signature, secret = issued.token[len(TOKEN_PREFIX) :].split(".")
    other_id = issue_token(KEYS).token_id
    with pytest.raises(TokenInvalid) as info:
        parse_token(f"{TOKEN_PREFIX}{other_id}.{signature}.{secret}", KEYS)
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("part", [0, 1])
def test_tampered_id_or_signature_rejected(issued: IssuedToken, part: int) -> None:
    parts = issued.token[len(TOKEN_PREFIX) :].split(".")
    parts[part] = _swap_char(parts[part], 3)
    with pytest.raises(TokenInvalid) as info:
        parse_token(TOKEN_PREFIX + ".".join(parts), KEYS)
    assert info.value.reason == "bad_signature"


def test_tampered_secret_fails_verification(issued: IssuedToken) -> None:
    # The secret is not covered by the signature; it is checked against the stored verifier instead.
    token_id, signature, secret = issued.token[len(TOKEN_PREFIX) :].split(".")
    presented = parse_token(f"{TOKEN_PREFIX}{token_id}.{signature}.{_swap_char(secret, 10)}", KEYS)
    assert not verify_secret(presented.secret, issued.verifier)


def test_wrong_key_rejected(issued: IssuedToken) -> None:
    with pytest.raises(TokenInvalid) as info:
        parse_token(issued.token, ["some-other-key"])
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1], id="truncated-secret"),
        pytest.param(lambda t: t[:40], id="truncated-heavily"),
        pytest.param(lambda t: t + "A", id="extended"),
        pytest.param(lambda t: "scam_" + t[5:], id="wrong-prefix"),
        pytest.param(lambda t: "SCIM_" + t[5:], id="prefix-case"),
        pytest.param(lambda t: t[5:], id="no-prefix"),
        pytest.param(lambda t: "Bearer " + t, id="with-scheme"),
        pytest.param(lambda t: " " + t, id="leading-space"),
        pytest.param(lambda t: t + "\n", id="trailing-newline"),
        pytest.param(lambda t: t + ".extra", id="four-parts"),
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="two-parts"),
        pytest.param(lambda t: t.replace(".", "..", 1), id="empty-part"),
        pytest.param(lambda t: t.replace(".", ":"), id="wrong-separator"),
        pytest.param(lambda t: t[:-1] + "=", id="padding"),
        pytest.param(lambda t: t[:-1] + "é", id="unicode"),
        pytest.param(lambda t: t[:-1] + "\x00", id="nul"),
        pytest.param(lambda t: t + "A" * 1000, id="huge"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "scim_", id="prefix-only"),
        pytest.param(lambda t: "scim_..", id="dots-only"),
    ],
)
def test_malformed_tokens_rejected(issued: IssuedToken, mangle: object) -> None:
    assert callable(mangle)
    with pytest.raises(TokenInvalid) as info:
        parse_token(mangle(issued.token), KEYS)
    assert info.value.reason == "malformed"


def test_oversized_input_rejected_before_parsing() -> None:
    with pytest.raises(TokenInvalid) as info:
        parse_token("scim_" + "x" * 10_000_000, KEYS)
    assert info.value.reason == "malformed"


def test_rotation_keeps_old_tokens_valid() -> None:
    issued = issue_token([KEY_A])
    # B is the new SECRET_KEY, A moved to SECRET_KEY_FALLBACKS.
    assert parse_token(issued.token, [KEY_B, KEY_A]).token_id == issued.token_id
    with pytest.raises(TokenInvalid):
        parse_token(issued.token, [KEY_B])


def test_new_tokens_signed_with_newest_key() -> None:
    issued = issue_token([KEY_B, KEY_A])
    assert parse_token(issued.token, [KEY_B]).token_id == issued.token_id
    with pytest.raises(TokenInvalid):
        parse_token(issued.token, [KEY_A])


def test_bytes_keys_equivalent_to_str() -> None:
    issued = issue_token([KEY_A])
    assert parse_token(issued.token, [KEY_A.encode()]).token_id == issued.token_id


@pytest.mark.parametrize("keys", [[], [""], [KEY_A, b""]])
def test_keys_required(keys: list[str | bytes]) -> None:
    with pytest.raises(ValueError):
        issue_token(keys)
    with pytest.raises(ValueError):
        parse_token("scim_x", keys)


def test_single_string_key_is_refused() -> None:
    with pytest.raises(TypeError):
        issue_token(KEY_A)


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_parse_arbitrary_text_only_raises_token_invalid(text: str) -> None:
    with pytest.raises(TokenInvalid) as info:
        parse_token(text, KEYS)
    assert info.value.reason in ("malformed", "bad_signature")


@settings(deadline=None, max_examples=300)
@given(
    st.text(alphabet="ABCabc019_-.", max_size=120).map(lambda s: TOKEN_PREFIX + s),
)
def test_parse_token_shaped_text_only_raises_token_invalid(text: str) -> None:
    with pytest.raises(TokenInvalid):
        parse_token(text, KEYS)


def test_verify_secret(issued: IssuedToken) -> None:
    secret = parse_token(issued.token, KEYS).secret
    assert verify_secret(secret, issued.verifier) is True
    assert verify_secret(secret + "x", issued.verifier) is False
    assert verify_secret("", issued.verifier) is False
    assert verify_secret(secret, "") is False
    assert verify_secret(secret, issued.verifier.upper()) is False
    assert verify_secret(secret, issued.verifier[:-1]) is False
    # Odd input must return False rather than raise (compare_digest rejects non-ASCII str).
    assert verify_secret("\ud800é", issued.verifier) is False
    assert verify_secret(secret, "é" * 64) is False


def test_mask() -> None:
    assert mask("abcd") == "scim_••••••abcd"
    assert mask(issue_token(KEYS).hint).startswith("scim_••••••")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("  Bearer    abc  ", "abc"),
        ("Bearer\tabc", "abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer a b", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Token abc", None),
        ("Bearerabc", None),
        ("abc", None),
        ("Bearer scim_x.y.z", "scim_x.y.z"),
    ],
)
def test_parse_authorization_header(header: str | None, expected: str | None) -> None:
    assert parse_authorization_header(header) == expected


def test_header_to_verification_end_to_end(issued: IssuedToken) -> None:
    raw = parse_authorization_header(f"Bearer {issued.token}")
    assert raw is not None
    presented = parse_token(raw, KEYS)
    assert verify_secret(presented.secret, issued.verifier)
