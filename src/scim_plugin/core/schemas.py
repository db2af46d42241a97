"""The SCIM schemas this plugin serves (RFC 7643 §3.1, §4, §8.7) and the Braze permissions extension.

Longer than 400 lines because it is data: the attribute definitions of RFC 7643 §8.7 written out one
attribute per entry, which reads better whole than split by schema.

These definitions are the single source of truth: request validation (``resources.normalize_input``),
projection (``render.render``), filters, PATCH and the ``/Schemas`` and ``/ResourceTypes`` discovery
endpoints all read them, so what the server advertises is exactly what it enforces.

Layout:

* ``USER_SCHEMA`` and ``GROUP_SCHEMA`` are the core schemas, with the characteristics of RFC 7643 §8.7.1
  (plus erratum 5368: Group ``displayName`` is required). They hold only schema attributes, as in the RFC.
* ``ID``, ``EXTERNAL_ID`` and ``META`` are the common attributes of RFC 7643 §3.1. They belong to every
  resource but to no schema, so ``ResourceType.resolve`` cannot find them; ``resolve_path`` can.
* ``ENTERPRISE_USER_SCHEMA`` is the RFC 7643 §4.3 extension.
* ``PERMISSIONS_SCHEMA`` is this project's extension for Braze's ``permissions`` object. Braze nests
  workspaces ("app groups") and teams, which RFC 7643 §2.4 forbids (no complex sub-attributes inside a
  complex attribute), so the extension stores the same data flat: one multi-valued attribute each for
  roles, workspaces and teams, with a team pointing at its workspace by id or name. The mapping to and
  from Braze's nested object lives in ``resources``.
"""

from __future__ import annotations

from typing import Any

from scim_plugin.core.attributes import Attribute, AttributePath, ResourceType, Schema

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PERMISSIONS_URN = "urn:scim-plugin:params:scim:schemas:extension:permissions:2.0:User"


# -- small builders: keep the long attribute tables readable


def _string(name: str, description: str, **characteristics: Any) -> Attribute:
    return Attribute(name, "string", description=description, **characteristics)


def _multi_complex(
    name: str,
    description: str,
    *,
    value: Attribute,
    types: tuple[str, ...] = (),
    type_description: str,
    primary_description: str,
    extra: tuple[Attribute, ...] = (),
) -> Attribute:
    """A standard multi-valued complex attribute (RFC 7643 §2.4): value, display, type, primary."""
    return Attribute(
        name,
        "complex",
        multi_valued=True,
        description=description,
        sub_attributes=(
            value,
            _string("display", "A human-readable name for this value, used for display only."),
            *extra,
            _string("type", type_description, canonical_values=types),
            Attribute("primary", "boolean", description=primary_description),
        ),
    )


# -- common attributes (RFC 7643 §3.1)

ID = _string(
    "id",
    "Identifier the service provider issued for the resource; unique, stable and never reassigned.",
    case_exact=True,
    mutability="readOnly",
    returned="always",
    uniqueness="server",
)

EXTERNAL_ID = _string(
    "externalId",
    "Identifier the provisioning client assigned to the resource (for example the IdP's own user id).",
    case_exact=True,
)

META = Attribute(
    "meta",
    "complex",
    description="Resource metadata maintained by the service provider.",
    mutability="readOnly",
    sub_attributes=(
        _string(
            "resourceType",
            "Name of the resource type of the resource, e.g. 'User' or 'Group'.",
            case_exact=True,
            mutability="readOnly",
        ),
        Attribute(
            "created",
            "dateTime",
            description="When the resource was added to the service provider.",
            mutability="readOnly",
        ),
        Attribute(
            "lastModified",
            "dateTime",
            description="When the resource was last changed; equals 'created' until the first change.",
            mutability="readOnly",
        ),
        Attribute(
            "location",
            "reference",
            description="URI of the resource; the same value as the Content-Location response header.",
            mutability="readOnly",
            reference_types=("uri",),
        ),
        _string(
            "version",
            "Version of the resource, the same value as its ETag.",
            case_exact=True,
            mutability="readOnly",
        ),
    ),
)

COMMON_ATTRIBUTES: tuple[Attribute, ...] = (ID, EXTERNAL_ID, META)


# -- core User (RFC 7643 §4.1, characteristics from §8.7.1)

_NAME = Attribute(
    "name",
    "complex",
    description="The components of the user's real name.",
    sub_attributes=(
        _string("formatted", "The full name, formatted for display (e.g. 'Ms. Barbara J Jensen, III')."),
        _string("familyName", "The family (last) name of the user."),
        _string("givenName", "The given (first) name of the user."),
        _string("middleName", "The middle name(s) of the user."),
        _string("honorificPrefix", "Honorific prefix(es), or title in most Western languages (e.g. 'Ms.')."),
        _string("honorificSuffix", "Honorific suffix(es) of the user (e.g. 'III')."),
    ),
)

_EMAILS = _multi_complex(
    "emails",
    "Email addresses of the user.",
    value=_string("value", "An email address, canonically in RFC 5321 form (e.g. 'bjensen@example.com')."),
    types=("work", "home", "other"),
    type_description="The kind of email address: 'work', 'home' or 'other'.",
    primary_description="Whether this is the user's preferred email address; at most one may be true.",
)

_PHONE_NUMBERS = _multi_complex(
    "phoneNumbers",
    "Phone numbers of the user.",
    value=_string("value", "A phone number, canonically in RFC 3966 form (e.g. 'tel:+1-201-555-0123')."),
    types=("work", "home", "mobile", "fax", "pager", "other"),
    type_description="The kind of phone number: 'work', 'home', 'mobile', 'fax', 'pager' or 'other'.",
    primary_description="Whether this is the user's preferred phone number; at most one may be true.",
)

_IMS = _multi_complex(
    "ims",
    "Instant messaging addresses of the user.",
    value=_string("value", "An instant messaging address."),
    types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
    type_description="The instant messaging service, e.g. 'xmpp' or 'skype'.",
    primary_description="Whether this is the user's preferred messaging address; at most one may be true.",
)

_PHOTOS = _multi_complex(
    "photos",
    "URLs of images of the user.",
    value=Attribute(
        "value",
        "reference",
        description="URL of an image file of the user.",
        reference_types=("external",),
    ),
    types=("photo", "thumbnail"),
    type_description="The kind of image: 'photo' or 'thumbnail'.",
    primary_description="Whether this is the user's preferred image; at most one may be true.",
)

_ADDRESSES = Attribute(
    "addresses",
    "complex",
    multi_valued=True,
    description="Physical mailing addresses of the user.",
    sub_attributes=(
        _string("formatted", "The full mailing address, formatted for display; may contain newlines."),
        _string("streetAddress", "Street address: house number, street name, P.O. box and similar."),
        _string("locality", "City or locality."),
        _string("region", "State or region."),
        _string("postalCode", "Zip code or postal code."),
        _string("country", "Country name, canonically an ISO 3166-1 alpha-2 code (e.g. 'US')."),
        _string(
            "type",
            "The kind of address: 'work', 'home' or 'other'.",
            canonical_values=("work", "home", "other"),
        ),
        Attribute(
            "primary",
            "boolean",
            description="Whether this is the user's preferred mailing address; at most one may be true.",
        ),
    ),
)

_GROUPS = Attribute(
    "groups",
    "complex",
    multi_valued=True,
    description="Groups the user belongs to, directly or through nested groups; managed through /Groups.",
    mutability="readOnly",
    sub_attributes=(
        _string("value", "The 'id' of the group.", mutability="readOnly"),
        Attribute(
            "$ref",
            "reference",
            description="URI of the group resource.",
            mutability="readOnly",
            reference_types=("User", "Group"),
        ),
        _string("display", "The group's display name.", mutability="readOnly"),
        _string(
            "type",
            "How the user belongs to the group: 'direct' or 'indirect' (through a nested group).",
            mutability="readOnly",
            canonical_values=("direct", "indirect"),
        ),
    ),
)

_ENTITLEMENTS = _multi_complex(
    "entitlements",
    "Entitlements of the user: things the user has been granted.",
    value=_string("value", "The entitlement."),
    type_description="A label for the entitlement's function.",
    primary_description="Whether this is the user's primary entitlement; at most one may be true.",
)

_ROLES = _multi_complex(
    "roles",
    "Roles of the user, e.g. 'Student' or 'Faculty'.",
    value=_string("value", "The role."),
    type_description="A label for the role's function.",
    primary_description="Whether this is the user's primary role; at most one may be true.",
)

_X509_CERTIFICATES = _multi_complex(
    "x509Certificates",
    "X.509 certificates issued to the user.",
    value=Attribute("value", "binary", description="A DER-encoded X.509 certificate, base64 encoded."),
    type_description="A label for the certificate's function.",
    primary_description="Whether this is the user's primary certificate; at most one may be true.",
)

USER_SCHEMA = Schema(
    id=USER_URN,
    name="User",
    description="User Account",
    attributes=(
        _string(
            "userName",
            "Unique identifier the user signs in with; for Braze compatibility, the user's email address.",
            required=True,
            uniqueness="server",
        ),
        _NAME,
        _string("displayName", "The name of the user as it should be displayed to end users."),
        _string("nickName", "The casual name of the user (e.g. 'Bob' for 'Robert')."),
        Attribute(
            "profileUrl",
            "reference",
            description="URL of the user's online profile.",
            reference_types=("external",),
        ),
        _string("title", "The user's job title, e.g. 'Vice President'."),
        _string("userType", "The relationship between the organization and the user, e.g. 'Employee'."),
        _string("preferredLanguage", "The user's preferred written or spoken language, e.g. 'en-US'."),
        _string("locale", "The user's default location for localizing dates, numbers and currency."),
        _string("timezone", "The user's time zone, in IANA 'Olson' form, e.g. 'America/Los_Angeles'."),
        Attribute("active", "boolean", description="Whether the user's account is active (may sign in)."),
        _string(
            "password",
            "The user's clear-text password, accepted on input only; stored hashed and never returned.",
            mutability="writeOnly",
            returned="never",
        ),
        _EMAILS,
        _PHONE_NUMBERS,
        _IMS,
        _PHOTOS,
        _ADDRESSES,
        _GROUPS,
        _ENTITLEMENTS,
        _ROLES,
        _X509_CERTIFICATES,
    ),
)


# -- Enterprise User extension (RFC 7643 §4.3)

ENTERPRISE_USER_SCHEMA = Schema(
    id=ENTERPRISE_USER_URN,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _string("employeeNumber", "Identifier assigned to the user by the organization, typically numeric."),
        _string("costCenter", "Name of the user's cost center."),
        _string("organization", "Name of the user's organization."),
        _string("division", "Name of the user's division."),
        _string(
            "department",
            "Name of the user's department. Free text; Braze hosts may restrict it to Braze's department "
            "strings (agency, bi, c_suite, engineering, finance, marketing, pm).",
        ),
        Attribute(
            "manager",
            "complex",
            description="The user's manager; clients may send just the manager's id as a string.",
            sub_attributes=(
                _string("value", "The 'id' of the manager's User resource."),
                Attribute(
                    "$ref",
                    "reference",
                    description="URI of the manager's User resource.",
                    reference_types=("User",),
                ),
                _string("displayName", "The manager's display name.", mutability="readOnly"),
            ),
        ),
    ),
)


# -- Braze permissions extension (this project's own)

PERMISSIONS_SCHEMA = Schema(
    id=PERMISSIONS_URN,
    name="Permissions",
    description=(
        "Dashboard permissions of the user: company permissions, roles, and per-workspace and per-team "
        "permissions. A flat, RFC 7643-valid form of Braze's nested 'permissions' object."
    ),
    attributes=(
        Attribute(
            "companyPermissions",
            "string",
            multi_valued=True,
            description="Company-level permission strings, e.g. 'admin' or 'manage_company_settings'.",
            canonical_values=("admin", "manage_company_settings", "add_remove_app_groups"),
        ),
        Attribute(
            "roles",
            "complex",
            multi_valued=True,
            description="Roles granted to the user; each role bundles permissions and workspace access.",
            sub_attributes=(
                _string("value", "The role's id (Braze 'roleId').", case_exact=True),
                _string("display", "The role's name (Braze 'roleName')."),
            ),
        ),
        Attribute(
            "workspaces",
            "complex",
            multi_valued=True,
            description="Workspaces (Braze 'app groups') the user can access, with the permissions there.",
            sub_attributes=(
                _string("value", "The workspace's id (Braze 'appGroupId').", case_exact=True),
                _string("display", "The workspace's name (Braze 'appGroupName')."),
                Attribute(
                    "permissions",
                    "string",
                    multi_valued=True,
                    description="Workspace permission strings (Braze 'appGroupPermissions').",
                ),
                _string(
                    "permissionSet",
                    "Name of the permission set granted in the workspace ('appGroupPermissionSetName').",
                ),
                _string(
                    "permissionSetId",
                    "Id of the permission set granted in the workspace ('appGroupPermissionSetId').",
                    case_exact=True,
                ),
            ),
        ),
        Attribute(
            "teams",
            "complex",
            multi_valued=True,
            description="Teams the user belongs to, each inside a workspace, with the permissions there.",
            sub_attributes=(
                _string("value", "The team's id (Braze 'teamId').", case_exact=True),
                _string("display", "The team's name (Braze 'teamName')."),
                _string(
                    "workspace",
                    "Id of the workspace the team belongs to; matches a 'workspaces' entry's 'value'.",
                    case_exact=True,
                ),
                _string(
                    "workspaceName",
                    "Name of the workspace the team belongs to, when the client named it instead of giving "
                    "its id; matches a 'workspaces' entry's 'display'.",
                ),
                Attribute(
                    "permissions",
                    "string",
                    multi_valued=True,
                    description="Team permission strings (Braze 'teamPermissions').",
                ),
            ),
        ),
        Attribute(
            "groupGrants",
            "complex",
            multi_valued=True,
            description=(
                "What the user's mapped SCIM groups grant on top of its own permissions, as the dashboard "
                "holds it: one entry per workspace, role or company permission. Read-only: a client changes "
                "it through group memberships, never by writing it back."
            ),
            mutability="readOnly",
            sub_attributes=(
                _string(
                    "type",
                    "What is granted: 'workspace', 'role' or 'companyPermission'.",
                    mutability="readOnly",
                    canonical_values=("workspace", "role", "companyPermission"),
                ),
                _string(
                    "value",
                    "The workspace's or role's id, or the company permission.",
                    mutability="readOnly",
                    case_exact=True,
                ),
                _string("display", "The workspace's or role's name.", mutability="readOnly"),
                Attribute(
                    "permissions",
                    "string",
                    multi_valued=True,
                    description="Workspace permission strings the groups grant there.",
                    mutability="readOnly",
                ),
            ),
        ),
        Attribute(
            "lastSignInAt",
            "dateTime",
            description="When the user last signed in successfully; absent if the user never signed in.",
            mutability="readOnly",
        ),
        _string(
            "provisioningMethod",
            "How the account was created: 'scim' (by a provisioning client) or 'manual' (in the app).",
            mutability="readOnly",
            canonical_values=("scim", "manual"),
        ),
    ),
)


# -- core Group (RFC 7643 §4.2, §8.7.1, erratum 5368)

GROUP_SCHEMA = Schema(
    id=GROUP_URN,
    name="Group",
    description="Group",
    attributes=(
        _string("displayName", "A human-readable name for the group.", required=True),
        Attribute(
            "members",
            "complex",
            multi_valued=True,
            description="The members of the group: users or other groups.",
            sub_attributes=(
                _string("value", "The 'id' of the member resource.", mutability="immutable"),
                Attribute(
                    "$ref",
                    "reference",
                    description="URI of the member resource.",
                    mutability="immutable",
                    reference_types=("User", "Group"),
                ),
                _string(
                    "type",
                    "The kind of member: 'User' or 'Group'.",
                    mutability="immutable",
                    canonical_values=("User", "Group"),
                ),
                _string("display", "The member's display name.", mutability="readOnly"),
            ),
        ),
    ),
)


# -- resource types

USER_RESOURCE = ResourceType(
    "User",
    "/Users",
    "User Account",
    USER_SCHEMA,
    ((ENTERPRISE_USER_SCHEMA, False), (PERMISSIONS_SCHEMA, False)),
)

GROUP_RESOURCE = ResourceType("Group", "/Groups", "Group", GROUP_SCHEMA)

RESOURCE_TYPES: dict[str, ResourceType] = {"User": USER_RESOURCE, "Group": GROUP_RESOURCE}

ALL_SCHEMAS: tuple[Schema, ...] = (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA, PERMISSIONS_SCHEMA)


def schema_by_urn(urn: str) -> Schema | None:
    """The schema (core or extension, of any resource type) whose URN is ``urn``, case-insensitively."""
    wanted = urn.lower()
    for schema in ALL_SCHEMAS:
        if schema.id.lower() == wanted:
            return schema
    return None


# Pseudo schemas for the common attributes, one per core URN; built once because AttributePath holds them
# and callers may compare them by identity.
_COMMON_SCHEMAS: dict[str, Schema] = {}


def common_schema(resource_type: ResourceType) -> Schema:
    """A pseudo schema holding ``id``, ``externalId`` and ``meta`` for ``resource_type``.

    Its ``id`` is the resource type's core URN, so an ``AttributePath`` into it is not an extension path
    and the attribute lives at the top level of the resource, like core attributes.
    """
    urn = resource_type.schema.id
    schema = _COMMON_SCHEMAS.get(urn)
    if schema is None:
        built = Schema(
            id=urn,
            name="Common",
            description="Attributes common to every resource (RFC 7643 §3.1).",
            attributes=COMMON_ATTRIBUTES,
        )
        # setdefault is atomic, so concurrent first calls still agree on one instance.
        schema = _COMMON_SCHEMAS.setdefault(urn, built)
    return schema


def resolve_path(resource_type: ResourceType, path: str) -> AttributePath | None:
    """Resolve an attribute path, including the common attributes ``id``, ``externalId`` and ``meta``.

    Accepts ``attr``, ``attr.sub``, and both forms prefixed with a schema URN and ``:``; the common
    attributes may be prefixed with the core URN (``urn:...:core:2.0:User:meta.created``). Names are
    case-insensitive. Everything else is delegated to ``ResourceType.resolve``. Returns ``None`` for an
    unknown attribute or sub-attribute.
    """
    if not path:
        return None
    rest = path
    core_prefix = resource_type.schema.id + ":"
    if path.lower().startswith(core_prefix.lower()):
        rest = path[len(core_prefix) :]
    name, _, sub_name = rest.partition(".")
    common = common_schema(resource_type)
    attr = common.attribute(name)
    if attr is None:
        return resource_type.resolve(path)
    if not sub_name:
        return AttributePath(common, attr)
    sub = attr.sub(sub_name)
    return AttributePath(common, attr, sub) if sub is not None else None
