"""Filter grammar (RFC 7644 §3.4.2.2), PATCH path grammar (§3.5.2) and the in-memory evaluator.

The resource types below are local fixtures on purpose: the filter layer must work with any schema, so the
tests do not depend on the real User/Group definitions in ``core.schemas``. ``test_patch`` reuses them.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim_plugin.core.attributes import Attribute, ResourceType, Schema
from scim_plugin.core.errors import InvalidFilter, InvalidPath
from scim_plugin.core.filter_eval import coerce_bool, evaluate, matches_entry
from scim_plugin.core.filters import (
    And,
    AttrRef,
    Compare,
    Node,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_filter,
    parse_path,
)

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _multi_complex(name: str, *extra: Attribute, mutability: str = "readWrite") -> Attribute:
    return Attribute(
        name,
        "complex",
        multi_valued=True,
        mutability=mutability,  # type: ignore[arg-type]
        sub_attributes=(
            Attribute("value"),
            Attribute("display"),
            Attribute("type"),
            Attribute("primary", "boolean"),
            *extra,
        ),
    )


USER_SCHEMA = Schema(
    USER_URN,
    "User",
    "User Account",
    (
        Attribute("userName", required=True, uniqueness="server"),
        Attribute("displayName"),
        Attribute("nickName"),
        Attribute("title"),
        Attribute("active", "boolean"),
        Attribute("externalId", case_exact=True),
        Attribute("loginCount", "integer"),
        Attribute("score", "decimal"),
        Attribute("employeeSince", "dateTime"),
        Attribute("profileUrl", "reference", reference_types=("external",)),
        Attribute(
            "name",
            "complex",
            sub_attributes=(Attribute("givenName"), Attribute("familyName"), Attribute("formatted")),
        ),
        _multi_complex("emails"),
        _multi_complex("phoneNumbers"),
        _multi_complex("roles"),
        _multi_complex("groups", mutability="readOnly"),
        Attribute("tags", multi_valued=True),
        Attribute("badge", case_exact=True, mutability="immutable"),
        Attribute(
            "meta",
            "complex",
            mutability="readOnly",
            sub_attributes=(
                Attribute("created", "dateTime", mutability="readOnly"),
                Attribute("lastModified", "dateTime", mutability="readOnly"),
            ),
        ),
    ),
)

ENTERPRISE_SCHEMA = Schema(
    ENTERPRISE_URN,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute("department"),
        Attribute("employeeNumber"),
        Attribute(
            "manager",
            "complex",
            sub_attributes=(
                Attribute("value"),
                Attribute("displayName", mutability="readOnly"),
                Attribute("$ref", "reference", reference_types=("User",)),
            ),
        ),
    ),
)

USER_TYPE = ResourceType("User", "/Users", "User Account", USER_SCHEMA, ((ENTERPRISE_SCHEMA, False),))

GROUP_SCHEMA = Schema(
    GROUP_URN,
    "Group",
    "Group",
    (
        Attribute("displayName", required=True),
        Attribute(
            "members",
            "complex",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", mutability="immutable"),
                Attribute("display"),
                Attribute("type", mutability="immutable"),
                Attribute("$ref", "reference", mutability="immutable", reference_types=("User", "Group")),
            ),
        ),
    ),
)

GROUP_TYPE = ResourceType("Group", "/Groups", "Group", GROUP_SCHEMA)


def ref(attr: str, sub: str | None = None, urn: str | None = None) -> AttrRef:
    return AttrRef(urn, attr, sub)


def eq(attr: str, value: Any, sub: str | None = None) -> Compare:
    return Compare(ref(attr, sub), "eq", value)


# -- parsing: valid filters

VALID: list[tuple[str, Node]] = [
    ('userName eq "bjensen"', eq("userName", "bjensen")),
    ('userName Eq "bjensen"', eq("userName", "bjensen")),
    ('USERNAME EQ "x"', eq("USERNAME", "x")),
    ('name.familyName co "O\'Malley"', Compare(ref("name", "familyName"), "co", "O'Malley")),
    ('userName sw "J"', Compare(ref("userName"), "sw", "J")),
    ('userName ew "son"', Compare(ref("userName"), "ew", "son")),
    ('userName ne "x"', Compare(ref("userName"), "ne", "x")),
    ("title pr", Present(ref("title"))),
    ("title PR", Present(ref("title"))),
    (
        'meta.lastModified gt "2011-05-13T04:42:34Z"',
        Compare(ref("meta", "lastModified"), "gt", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified ge "2011-05-13T04:42:34Z"',
        Compare(ref("meta", "lastModified"), "ge", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified lt "2011-05-13T04:42:34Z"',
        Compare(ref("meta", "lastModified"), "lt", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified le "2011-05-13T04:42:34Z"',
        Compare(ref("meta", "lastModified"), "le", "2011-05-13T04:42:34Z"),
    ),
    ("active eq true", eq("active", True)),
    ("active eq FALSE", eq("active", False)),
    ("active eq True", eq("active", True)),
    ('active eq "True"', eq("active", "True")),
    ("manager eq null", eq("manager", None)),
    ("manager eq NULL", eq("manager", None)),
    ("loginCount gt 10", Compare(ref("loginCount"), "gt", 10)),
    ("loginCount eq 0", eq("loginCount", 0)),
    ("score lt -1.5", Compare(ref("score"), "lt", -1.5)),
    ("score le 2e3", Compare(ref("score"), "le", 2000.0)),
    ("score ge 1.25E-2", Compare(ref("score"), "ge", 0.0125)),
    (r'displayName eq "say \"hi\""', eq("displayName", 'say "hi"')),
    (r'displayName eq "back\\slash"', eq("displayName", "back\\slash")),
    (r'displayName eq "caf\u00e9"', eq("displayName", "café")),
    ('displayName eq ""', eq("displayName", "")),
    ('displayName eq "and or not ( ) [ ]"', eq("displayName", "and or not ( ) [ ]")),
    (
        f'{ENTERPRISE_URN}:department eq "Sales"',
        Compare(AttrRef(ENTERPRISE_URN, "department", None), "eq", "Sales"),
    ),
    (
        f'{ENTERPRISE_URN}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"',
        Compare(AttrRef(ENTERPRISE_URN, "manager", "value"), "eq", "26118915-6090-4610-87e4-49d8ca9f808d"),
    ),
    (f'{USER_URN}:userName eq "x"', Compare(AttrRef(USER_URN, "userName", None), "eq", "x")),
    ('members[$ref eq "https://x/Users/1"]', ValuePath(ref("members"), eq("$ref", "https://x/Users/1"))),
    ("manager.$ref pr", Present(ref("manager", "$ref"))),
    ("a eq 1 and b eq 2", And(eq("a", 1), eq("b", 2))),
    ("a eq 1 AND b eq 2 and c eq 3", And(And(eq("a", 1), eq("b", 2)), eq("c", 3))),
    ("a eq 1 or b eq 2 OR c eq 3", Or(Or(eq("a", 1), eq("b", 2)), eq("c", 3))),
    # Precedence (erratum 4670): and binds tighter than or, not tighter than and.
    ("a pr or b pr and c pr", Or(Present(ref("a")), And(Present(ref("b")), Present(ref("c"))))),
    ("a pr and b pr or c pr", Or(And(Present(ref("a")), Present(ref("b"))), Present(ref("c")))),
    ("not (a pr) and b pr", And(Not(Present(ref("a"))), Present(ref("b")))),
    ("(a pr or b pr) and c pr", And(Or(Present(ref("a")), Present(ref("b"))), Present(ref("c")))),
    # Erratum 7319: not( without a space; keywords in any case.
    ('not(userName eq "x")', Not(eq("userName", "x"))),
    ('NOT (userName eq "x")', Not(eq("userName", "x"))),
    ("not ( not (a pr) )", Not(Not(Present(ref("a"))))),
    ("((a pr))", Present(ref("a"))),
    (
        'emails[type eq "work" and value co "@example.com"]',
        ValuePath(ref("emails"), And(eq("type", "work"), Compare(ref("value"), "co", "@example.com"))),
    ),
    (
        'emails[type eq "work" and (value co "@a" or value co "@b")]',
        ValuePath(
            ref("emails"),
            And(eq("type", "work"), Or(Compare(ref("value"), "co", "@a"), Compare(ref("value"), "co", "@b"))),
        ),
    ),
    ('emails[not(type eq "work")]', ValuePath(ref("emails"), Not(eq("type", "work")))),
    ('roles[primary eq "True"]', ValuePath(ref("roles"), eq("primary", "True"))),
    # Entra's matching filter: a value path followed by a sub-attribute comparison.
    (
        'emails[type eq "work"].value eq "a@x.com"',
        ValuePath(ref("emails"), And(eq("type", "work"), eq("value", "a@x.com"))),
    ),
    (
        'userName eq "a" and emails[type eq "work"].value pr',
        And(eq("userName", "a"), ValuePath(ref("emails"), And(eq("type", "work"), Present(ref("value"))))),
    ),
    (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(
            eq("userType", "Employee"),
            Or(
                Compare(ref("emails"), "co", "example.com"),
                Compare(ref("emails", "value"), "co", "example.org"),
            ),
        ),
    ),
    ("  title   pr  ", Present(ref("title"))),
    ('userName eq"x"', eq("userName", "x")),
    ('members.value eq "id"', eq("members", "id", sub="value")),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[text for text, _ in VALID])
def test_parses_valid_filter(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


INVALID: list[str] = [
    "",
    "   ",
    "userName",
    "userName eq",
    'userName xx "x"',
    'userName eq "unterminated',
    'userName eq "bad \\q escape"',
    "userName eq bareword",
    "userName eq 01",
    "userName eq 1.",
    'userName eq "x" and',
    'userName eq "x" or',
    'and userName eq "x"',
    '(userName eq "x"',
    'userName eq "x")',
    'not userName eq "x"',
    "not",
    "not ()",
    "()",
    'emails[type eq "work"',
    "emails[]",
    'emails[type eq "work"]]',
    'emails[addresses[type eq "x"]]',
    'name.givenName[type eq "x"]',
    'emails[type eq "work"] .value eq "x"',
    'emails[type eq "work"].9 eq "x"',
    'userName eq "x" userName eq "y"',
    '"userName" eq "x"',
    "1abc pr",
    "user name pr",
    "userName eq 'single'",
    'userName eq "x" ; drop table',
    "name..givenName pr",
    "name.givenName.x pr",
    ":userName pr",
    "userName eq [",
    'userName eq "x" and ()',
]


@pytest.mark.parametrize("text", INVALID)
def test_rejects_invalid_filter(text: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text)
    assert info.value.scim_type == "invalidFilter"
    assert info.value.status == 400


def test_error_detail_names_the_position() -> None:
    with pytest.raises(InvalidFilter, match=r"'xx' at position 9"):
        parse_filter('userName xx "x"')


def test_length_limit() -> None:
    text = 'userName eq "' + "a" * 4090 + '"'
    assert len(text) > 4096
    with pytest.raises(InvalidFilter, match="4096 characters"):
        parse_filter(text)
    assert parse_filter(text, max_length=5000) == eq("userName", "a" * 4090)


def test_depth_limit() -> None:
    def nested(depth: int) -> str:
        return "(" * depth + "a pr" + ")" * depth

    assert parse_filter(nested(24)) == Present(ref("a"))
    with pytest.raises(InvalidFilter, match="24 levels"):
        parse_filter(nested(25))
    with pytest.raises(InvalidFilter, match="3 levels"):
        parse_filter("not(not(not(not(a pr))))", max_depth=3)
    # Deep nesting far beyond the limit is an InvalidFilter, never a RecursionError.
    with pytest.raises(InvalidFilter):
        parse_filter("(" * 4000 + "a pr" + ")" * 4000, max_length=10_000)


def test_long_flat_chains_are_not_depth_limited() -> None:
    text = " or ".join(f'id eq "{n}"' for n in range(200))
    node = parse_filter(text)
    assert isinstance(node, Or)
    resource = {"id": "199", "userName": "u"}
    assert evaluate(node, resource, USER_TYPE)


def test_non_string_filter_is_rejected() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter(None)  # type: ignore[arg-type]


# -- PATCH paths

PATHS: list[tuple[str, PatchPath]] = [
    ("userName", PatchPath(ref("userName"))),
    ("name.givenName", PatchPath(ref("name"), None, "givenName")),
    (f"{ENTERPRISE_URN}:department", PatchPath(AttrRef(ENTERPRISE_URN, "department", None))),
    (f"{ENTERPRISE_URN}:manager.value", PatchPath(AttrRef(ENTERPRISE_URN, "manager", None), None, "value")),
    ('emails[type eq "work"]', PatchPath(ref("emails"), eq("type", "work"))),
    ('emails[type eq "work"].value', PatchPath(ref("emails"), eq("type", "work"), "value")),
    ('members[value eq "a]b"]', PatchPath(ref("members"), eq("value", "a]b"))),
    (
        'emails[type eq "work" and value ew "example.org"].primary',
        PatchPath(
            ref("emails"), And(eq("type", "work"), Compare(ref("value"), "ew", "example.org")), "primary"
        ),
    ),
    (' members[value EQ "7f4b"] ', PatchPath(ref("members"), eq("value", "7f4b"))),
]


@pytest.mark.parametrize(("text", "expected"), PATHS, ids=[text for text, _ in PATHS])
def test_parses_patch_path(text: str, expected: PatchPath) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "name givenName",
        "name.",
        "9lives",
        '"userName"',
        "name.givenName[type eq 1]",
        'emails[type eq "x"] x',
    ],
)
def test_rejects_bad_patch_path(text: str) -> None:
    with pytest.raises(InvalidPath):
        parse_path(text)


@pytest.mark.parametrize(
    "text", ['emails[type xx "work"]', "emails[type eq]", 'emails[type eq "w"', "emails[]"]
)
def test_bad_bracket_filter_in_path_is_invalid_filter(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_path(text)


# -- fuzzing: InvalidFilter is the only possible failure

_ATOMS = st.sampled_from(
    [
        "userName",
        "name.givenName",
        "emails",
        "emails.value",
        f"{ENTERPRISE_URN}:manager.value",
        "active",
        "meta.created",
        "loginCount",
        "nosuch",
        "eq",
        "EQ",
        "ne",
        "co",
        "sw",
        "gt",
        "le",
        "pr",
        "and",
        "Or",
        "not",
        "(",
        ")",
        "[",
        "]",
        "].value",
        '"x"',
        '"2020-01-01T00:00:00Z"',
        '"a\\"b"',
        '"\\u00e9"',
        '"\\ud800"',
        '"unterminated',
        "true",
        "False",
        "null",
        "42",
        "-0.5e3",
        "1e999",
        ".",
        ":",
        "$ref",
        "\\",
        "\t",
    ]
)
_GRAMMARISH = st.lists(_ATOMS, max_size=25).map(" ".join) | st.lists(_ATOMS, max_size=25).map("".join)

SAMPLE: dict[str, Any] = {
    "id": "2819c223",
    "userName": "bjensen",
    "active": True,
    "name": {"givenName": "Barbara"},
    "emails": [{"value": "b@example.com", "type": "work", "primary": True}],
    "meta": {"created": "2020-01-01T00:00:00Z"},
    "loginCount": 3,
    ENTERPRISE_URN: {"manager": {"value": "boss"}},
}


def _only_invalid_filter(text: str) -> None:
    try:
        node = parse_filter(text)
    except InvalidFilter:
        return
    with contextlib.suppress(InvalidFilter):
        evaluate(node, SAMPLE, USER_TYPE)


@settings(database=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(text: str) -> None:
    _only_invalid_filter(text)


@settings(database=None, max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_GRAMMARISH)
def test_fuzz_grammar_like_text(text: str) -> None:
    _only_invalid_filter(text)


@settings(database=None, max_examples=300)
@given(_GRAMMARISH)
def test_fuzz_paths(text: str) -> None:
    with contextlib.suppress(InvalidPath, InvalidFilter):
        parse_path(text)


# -- evaluation

BJENSEN: dict[str, Any] = {
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "Bjensen-Ext",
    "userName": "BJensen@Example.com",
    "displayName": "Babs Jensen",
    "active": False,
    "loginCount": 12,
    "score": 2.5,
    "profileUrl": "https://Login.example.com/bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "roles": [{"value": "admin", "primary": "True"}, {"value": "user"}],
    "tags": ["Blue", "green"],
    "groups": [],
    "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T20:31:02+02:00"},
    ENTERPRISE_URN: {"department": "Tour Operations", "manager": {"value": "boss-1", "displayName": "John"}},
}

MATCHES: list[tuple[str, bool]] = [
    # userName is caseExact false; externalId and id are caseExact.
    ('userName eq "bjensen@example.com"', True),
    ('USERNAME EQ "BJENSEN@EXAMPLE.COM"', True),
    ('externalId eq "Bjensen-Ext"', True),
    ('externalId eq "bjensen-ext"', False),
    ('id eq "2819c223-7f76-453a-919d-413861904646"', True),
    ('id eq "2819C223-7F76-453A-919D-413861904646"', False),
    ('profileUrl eq "https://login.example.com/bjensen"', False),  # references are case-exact
    ('userName sw "bjen"', True),
    ('userName ew "EXAMPLE.COM"', True),
    ('userName co "sen@"', True),
    ('userName co "nobody"', False),
    ('userName gt "a"', True),
    ('userName lt "a"', False),
    ('displayName ne "Babs Jensen"', False),
    # ne on a missing attribute matches; pr on empty/missing does not.
    ('title ne "Boss"', True),
    ("title pr", False),
    ("title eq null", True),
    ("displayName eq null", False),
    ("displayName ne null", True),
    ("groups pr", False),
    ("emails pr", True),
    ("name pr", True),
    ("name.formatted pr", False),
    # Booleans: literals and string booleans in any case.
    ("active eq false", True),
    ('active eq "False"', True),
    ('active eq "FALSE"', True),
    ('active eq "true"', False),
    ("active ne true", True),
    ('active eq "yes"', False),
    ("active pr", True),
    # Numbers and dates.
    ("loginCount gt 10", True),
    ("loginCount ge 12", True),
    ("loginCount lt 12", False),
    ("loginCount eq 12.0", True),
    ('loginCount eq "12"', False),
    ("score le 2.5", True),
    ('meta.created gt "2011-08-01T18:00:00Z"', True),
    ('meta.created gt "2011-08-01T20:00:00+02:00"', True),  # 18:00Z: offsets are honoured
    ('meta.created lt "2011-08-01T18:29:49.793Z"', False),
    ('meta.created eq "2011-08-01T20:29:49.793+02:00"', True),
    ('meta.lastModified lt "2011-08-01T19:00:00Z"', True),  # 20:31+02:00 is 18:31Z
    ('meta.lastModified gt "2011-08-01"', True),
    # A string attribute against a non-string literal is no match, not an error.
    ("userName eq 1", False),
    ("userName eq true", False),
    ("userName gt null", False),
    # Multi-valued: any value matches; bare complex attributes compare their "value".
    ('emails.value eq "babs@jensen.org"', True),
    ('emails eq "BABS@jensen.org"', True),
    ('emails.type eq "home"', True),
    ('emails.type eq "other"', False),
    ('emails.type ne "home"', False),
    ('tags eq "blue"', True),
    ('tags sw "gr"', True),
    # Value paths: one entry must satisfy the whole inner filter.
    ('emails[type eq "work" and value co "@example.com"]', True),
    ('emails[type eq "home" and value co "@example.com"]', False),
    ('emails[type eq "work"].value eq "bjensen@example.com"', True),
    ('emails[type eq "home"].value eq "bjensen@example.com"', False),
    ("emails[primary eq true]", True),
    ('emails[primary eq "True"].type eq "work"', True),
    ('roles[primary eq "True"]', True),  # Entra: string boolean literal, and stored as a string here
    ('roles[primary eq true].value eq "admin"', True),
    ('emails[not (type eq "work")]', True),
    ('phoneNumbers[type eq "work"]', False),
    ('not (emails[type eq "work"])', False),
    # Extension attributes, qualified or not.
    (f'{ENTERPRISE_URN}:department eq "tour operations"', True),
    ('department sw "Tour"', True),
    (f'{ENTERPRISE_URN}:manager.value eq "boss-1"', True),
    ("manager.displayName pr", True),
    ("employeeNumber pr", False),
    (f'{USER_URN}:name.givenName eq "barbara"', True),
    # Logic and precedence.
    ("userName pr and not (active eq true) or title pr", True),
    ("title pr and displayName pr or loginCount eq 1", False),
    ("title pr or displayName pr and loginCount eq 12", True),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES, ids=[text for text, _ in MATCHES])
def test_evaluate(text: str, expected: bool) -> None:
    assert evaluate(parse_filter(text), BJENSEN, USER_TYPE) is expected


EVAL_ERRORS: list[str] = [
    'nosuch eq "x"',
    'name.nosuch eq "x"',
    'urn:example:unknown:2.0:User:department eq "x"',
    "active gt true",
    'active co "t"',
    'loginCount co "1"',
    'meta.created sw "2011"',
    'meta.created gt "yesterday"',
    'name eq "x"',
    'emails[nosuch eq "x"]',
    'emails[value.x eq "x"]',
    'userName[value eq "x"]',
    'name[value eq "x"]',
    # Errors do not depend on short-circuiting: the unknown attribute is on the unevaluated side.
    'userName pr or nosuch eq "x"',
]


@pytest.mark.parametrize("text", EVAL_ERRORS)
def test_evaluate_rejects(text: str) -> None:
    node = parse_filter(text)
    with pytest.raises(InvalidFilter):
        evaluate(node, BJENSEN, USER_TYPE)


def test_evaluate_group_member_and_common_attributes() -> None:
    group = {"id": "g1", "displayName": "Admins", "members": [{"value": "u1"}, {"value": "u2"}]}
    assert evaluate(parse_filter('members[value eq "u2"]'), group, GROUP_TYPE)
    assert evaluate(parse_filter('members.value eq "u1"'), group, GROUP_TYPE)
    assert evaluate(parse_filter('members.value eq "U1"'), group, GROUP_TYPE)  # value is not caseExact
    assert evaluate(parse_filter('id eq "g1"'), group, GROUP_TYPE)
    assert evaluate(parse_filter("externalId eq null"), group, GROUP_TYPE)
    assert not evaluate(parse_filter("meta.created pr"), group, GROUP_TYPE)
    assert evaluate(parse_filter(f'{GROUP_URN}:displayName eq "admins"'), group, GROUP_TYPE)


def test_evaluate_tolerates_non_canonical_key_case_and_shapes() -> None:
    resource = {"UserName": "x", "emails": {"value": "solo@x"}, "ACTIVE": "true"}
    assert evaluate(parse_filter('userName eq "X"'), resource, USER_TYPE)
    assert evaluate(parse_filter('emails eq "solo@x"'), resource, USER_TYPE)
    assert evaluate(parse_filter("active eq true"), resource, USER_TYPE)


def test_matches_entry() -> None:
    emails = USER_SCHEMA.attribute("emails")
    assert emails is not None
    node = parse_filter('x[type eq "work" and primary eq "true"]')
    assert isinstance(node, ValuePath)
    assert matches_entry(node.filter, {"type": "Work", "primary": True}, emails)
    assert not matches_entry(node.filter, {"type": "work"}, emails)
    assert not matches_entry(node.filter, "not a dict", emails)
    with pytest.raises(InvalidFilter):
        matches_entry(eq("nosuch", "x"), {}, emails)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("FALSE", False),
        (" true ", True),
        ("yes", None),
        (1, None),
        (None, None),
    ],
)
def test_coerce_bool(value: Any, expected: bool | None) -> None:
    assert coerce_bool(value) is expected
