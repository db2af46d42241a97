"""``GET /Users?filter=...`` (SQL) against the reference evaluator (Python), through the real app.

The property: for any stored users and any filter, the ids the API returns are exactly the ids of the stored
users that :func:`scim_plugin.core.filter_eval.evaluate` accepts when run on each user's full resource.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim_plugin.core.filter_eval import evaluate
from scim_plugin.core.filters import parse_filter
from scim_plugin.core.schemas import USER_RESOURCE

# Characters that stress case folding, LIKE escaping and quoting.
ALPHABET = "aAbBzZ%_\\.@- ßİıÉé"
TEXT = st.text(alphabet=ALPHABET, min_size=0, max_size=5)
NONEMPTY = st.text(alphabet=ALPHABET, min_size=1, max_size=5)
STRING_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
EMAIL_TYPES = ("work", "home", "other", "Work", "HOME")


def _all_ids(scim: Any, query: str = "") -> list[str]:
    r = scim.get(f"/Users?count=1000{query}")
    assert r.status_code == 200, r.get_json()
    return [res["id"] for res in r.get_json()["Resources"]]


def _filtered_ids(scim: Any, text: str) -> set[str]:
    r = scim.get(f"/Users?count=1000&filter={quote(text)}")
    assert r.status_code == 200, (text, r.get_json())
    body = r.get_json()
    assert body["totalResults"] == len(body["Resources"])
    return {res["id"] for res in body["Resources"]}


def _stored_resources(scim: Any) -> list[dict[str, Any]]:
    r = scim.get("/Users?count=1000")
    assert r.status_code == 200
    return r.get_json()["Resources"]


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- strategies -------------------------------------------------------------------------------------

emails = st.lists(
    st.fixed_dictionaries(
        {"value": NONEMPTY},
        optional={"type": st.sampled_from(EMAIL_TYPES), "primary": st.booleans()},
    ),
    max_size=3,
)

users = st.lists(
    st.fixed_dictionaries(
        {"userName": NONEMPTY.map(lambda s: "u" + s)},  # a blank userName is rightly refused
        optional={
            "displayName": NONEMPTY,
            "externalId": NONEMPTY,
            "active": st.booleans(),
            "emails": emails,
            "name": st.fixed_dictionaries({}, optional={"givenName": NONEMPTY, "familyName": NONEMPTY}),
        },
    ),
    min_size=0,
    max_size=6,
)

STRING_ATTRS = (
    "userName",
    "displayName",
    "externalId",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "USERNAME",
    "Emails.Value",
)


@st.composite
def comparisons(draw: Any) -> str:
    kind = draw(st.sampled_from(("string", "bool", "present", "null", "valuepath", "entra")))
    if kind == "string":
        attr = draw(st.sampled_from(STRING_ATTRS))
        op = draw(st.sampled_from(STRING_OPS))
        if draw(st.booleans()):
            op = op.upper()
        return f"{attr} {op} {_literal(draw(TEXT))}"
    if kind == "bool":
        attr = draw(st.sampled_from(("active", "emails.primary")))
        op = draw(st.sampled_from(("eq", "ne")))
        value = draw(st.sampled_from(("true", "false", '"True"', '"false"')))
        return f"{attr} {op} {value}"
    if kind == "present":
        attr = draw(st.sampled_from((*STRING_ATTRS, "active", "name", "emails.primary")))
        return f"{attr} pr"
    if kind == "null":
        attr = draw(st.sampled_from(("displayName", "externalId", "emails", "name.givenName")))
        return f"{attr} {draw(st.sampled_from(('eq', 'ne')))} null"
    inner = draw(value_filters())
    if kind == "entra":
        return f"emails[{inner}].value {draw(st.sampled_from(STRING_OPS))} {_literal(draw(TEXT))}"
    return f"emails[{inner}]"


@st.composite
def value_filters(draw: Any) -> str:
    def one() -> str:
        sub = draw(st.sampled_from(("value", "type", "primary")))
        if sub == "primary":
            return f"primary {draw(st.sampled_from(('eq', 'ne')))} {draw(st.sampled_from(('true', 'false')))}"
        if draw(st.integers(0, 5)) == 0:
            return f"{sub} pr"
        return f"{sub} {draw(st.sampled_from(STRING_OPS))} {_literal(draw(TEXT))}"

    text = one()
    for _ in range(draw(st.integers(0, 2))):
        text = f"{text} {draw(st.sampled_from(('and', 'or')))} {one()}"
    if draw(st.booleans()):
        text = f"not ({text})"
    return text


filters = st.recursive(
    comparisons(),
    lambda children: st.one_of(
        st.tuples(children, st.sampled_from(("and", "or", "AND", "Or")), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        children.map(lambda f: f"({f})"),
        children.map(lambda f: f"not ({f})"),
    ),
    max_leaves=6,
)


# -- the property -----------------------------------------------------------------------------------


def test_sql_filter_equals_evaluator(scim: Any) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(population=users, queries=st.lists(filters, min_size=1, max_size=4))
    def check(population: list[dict[str, Any]], queries: list[str]) -> None:
        created: list[str] = []
        seen: set[str] = set()
        try:
            for user in population:
                key = user["userName"].lower()
                if key in seen or user["userName"].casefold() in seen:
                    continue
                seen.update({key, user["userName"].casefold()})
                r = scim.post("/Users", json=user)
                if r.status_code == 409:
                    continue
                assert r.status_code == 201, (user, r.get_json())
                created.append(r.get_json()["id"])
            stored = _stored_resources(scim)
            assert {res["id"] for res in stored} == set(created)
            for text in queries:
                node = parse_filter(text)
                expected = {res["id"] for res in stored if evaluate(node, res, USER_RESOURCE)}
                assert _filtered_ids(scim, text) == expected, (text, stored)
        finally:
            for user_id in created:
                assert scim.delete(f"/Users/{user_id}").status_code == 204

    check()


# -- fixed cases that the property may not hit ------------------------------------------------------


@pytest.fixture
def metachar_users(scim: Any) -> dict[str, str]:
    names = {
        "percent": "100%off@x.example",
        "plain": "100xoff@x.example",
        "underscore": "a_b@x.example",
        "nounderscore": "axb@x.example",
        "backslash": "back\\slash@x.example",
        "noslash": "backslash@x.example",
    }
    ids = {}
    for key, user_name in names.items():
        r = scim.post(
            "/Users",
            json={
                "userName": user_name,
                "displayName": user_name,
                "emails": [{"value": user_name, "type": "work"}],
            },
        )
        assert r.status_code == 201, r.get_json()
        ids[key] = r.get_json()["id"]
    return ids


@pytest.mark.parametrize("attr", ["userName", "displayName", "emails.value", 'emails[type eq "work"].value'])
@pytest.mark.parametrize(
    ("op", "needle", "expected"),
    [
        ("co", "%", {"percent"}),
        ("co", "0%o", {"percent"}),
        ("sw", "100%", {"percent"}),
        ("co", "_", {"underscore"}),
        ("sw", "a_", {"underscore"}),
        ("ew", "_b@x.example", {"underscore"}),
        ("co", "\\", {"backslash"}),
        ("co", "k\\s", {"backslash"}),
        ("sw", "back\\", {"backslash"}),
        ("co", "%%", set()),
        ("co", "__", set()),
    ],
)
def test_like_metacharacters_match_literally(
    scim: Any, metachar_users: dict[str, str], attr: str, op: str, needle: str, expected: set[str]
) -> None:
    got = _filtered_ids(scim, f"{attr} {op} {_literal(needle)}")
    assert got == {metachar_users[key] for key in expected}


def test_eq_with_metacharacters_is_exact(scim: Any, metachar_users: dict[str, str]) -> None:
    assert _filtered_ids(scim, 'userName eq "a_b@x.example"') == {metachar_users["underscore"]}
    assert _filtered_ids(scim, 'userName eq "back\\\\slash@x.example"') == {metachar_users["backslash"]}
    assert _filtered_ids(scim, 'userName eq "a%"') == set()


def test_filter_is_tenant_scoped(app: Any, client: Any, scim: Any, metachar_users: dict[str, str]) -> None:
    from tests.conftest import ScimClient, issue_token

    globex = ScimClient(client, issue_token(app, "globex"))
    text = quote('userName co "x.example"')
    r = globex.get(f"/Users?filter={text}")
    assert r.status_code == 200
    assert r.get_json()["totalResults"] == 0
    assert len(_filtered_ids(scim, 'userName co "x.example"')) == len(metachar_users)


def test_absent_primary_is_not_false(scim: Any) -> None:
    r = scim.post(
        "/Users", json={"userName": "noprimary@x.example", "emails": [{"value": "noprimary@x.example"}]}
    )
    assert r.status_code == 201
    stored = _stored_resources(scim)
    for text in ("emails.primary pr", "emails[primary eq false]"):
        expected = {res["id"] for res in stored if evaluate(parse_filter(text), res, USER_RESOURCE)}
        assert _filtered_ids(scim, text) == expected, text


def test_case_insensitive_matching_uses_unicode_case_folding(scim: Any) -> None:
    # "ß" folds to "ss": the SQL side must agree with the evaluator (which uses str.casefold).
    r = scim.post("/Users", json={"userName": "STRASSE@x.example", "displayName": "Grosse Strasse"})
    assert r.status_code == 201
    user_id = r.get_json()["id"]
    assert _filtered_ids(scim, 'userName eq "straße@x.example"') == {user_id}
    assert _filtered_ids(scim, 'displayName co "straße"') == {user_id}
    duplicate = scim.post("/Users", json={"userName": "straße@x.example"})
    assert duplicate.status_code == 409
