"""Provisioned groups: ``scim_groups``, their members in ``scim_group_members``, and what mapped groups grant.

Longer than 400 lines because ``GroupStore`` keeps every write of a group and its memberships beside
the set statements they share; reading a PATCH into member operations is in
:mod:`~scim_plugin.storage.group_patch`.

Like :mod:`~scim_plugin.storage.user_store`, every method runs inside the caller's transaction, only
flushes, and filters every statement on ``tenant_id``.

Members are never part of the stored group document and are never loaded to change them: ``add`` is one
``INSERT ... SELECT`` of the ids that exist in the tenant and are not members yet, ``remove`` one
``DELETE ... WHERE member_id IN (...)``, so the number of statements a membership PATCH issues depends on
the request, not on the size of the group. The non-member part of a PATCH goes through
:func:`scim_plugin.core.patch.apply_patch` on the (member-less) group document.

When a group is *mapped* (``scim_group_mappings``), the users whose memberships changed get their grants
recomputed and handed to the host through ``scim_apply_group_grants``, in the same transaction.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import String, and_, bindparam, delete, exists, false, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from scim_plugin.core import errors
from scim_plugin.core.filters import Node
from scim_plugin.core.patch import apply_patch
from scim_plugin.core.replace import check_immutable, merge_for_put
from scim_plugin.core.resources import normalize_input
from scim_plugin.core.schemas import GROUP_RESOURCE, GROUP_URN
from scim_plugin.core.values import format_datetime
from scim_plugin.state import ScimState
from scim_plugin.storage.group_patch import CHUNK, chunks, member_ids, split_operations, union_grants
from scim_plugin.storage.models import (
    MYSQL_DIALECTS,
    ScimGroup,
    ScimGroupMapping,
    ScimGroupMember,
    ScimUser,
    TenantSettings,
    new_id,
    utcnow,
)
from scim_plugin.storage.paging import Segment, SortKey, index_list, list_keys
from scim_plugin.storage.sql_filters import GroupFilterCompiler, fold
from scim_plugin.storage.user_documents import etag, if_match_versions
from scim_plugin.storage.user_store import ListQuery, UserStore

READ_ONLY_KEYS = ("id", "meta", "members")
SORTABLE = {
    "displayname": ScimGroup.display_name_norm,
    "externalid": ScimGroup.external_id,
    "id": ScimGroup.id,
    "meta.created": ScimGroup.created_at,
    "meta.lastmodified": ScimGroup.updated_at,
}


class GroupStore:
    """The tenant's SCIM groups and their members."""

    def __init__(self, state: ScimState, tenant_id: str) -> None:
        self.state = state
        self.session = state.db.session
        self.tenant_id = tenant_id

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, group_id: str) -> ScimGroup:
        params = {"tenant": self.tenant_id, "group": group_id}
        row = self.session.execute(_GROUP, params).scalar_one_or_none()
        if row is None:
            raise errors.NotFound(f"Group {group_id} not found.")
        return row

    def by_name(self, display_name: str) -> ScimGroup | None:
        return self.session.execute(
            select(ScimGroup).where(
                ScimGroup.tenant_id == self.tenant_id, ScimGroup.display_name_norm == fold(display_name)[:255]
            )
        ).scalar_one_or_none()

    def condition(self, node: Node | None, *, lenient: bool = False) -> tuple[Any, GroupFilterCompiler]:
        compiler = GroupFilterCompiler(GROUP_RESOURCE, lenient=lenient)
        condition = ScimGroup.tenant_id == self.tenant_id
        if node is not None:
            condition = condition & compiler.compile(node)
        return condition, compiler

    def segment(self, query: ListQuery, condition: Any = None) -> Segment:
        """The groups ``query`` selects and their order, for index or cursor paging."""
        if condition is None:
            condition, _ = self.condition(query.filter)
        column = self.sort_column(query.sort_by) if query.sort_by else None
        return Segment(ScimGroup, condition, self.keys(column, query.descending))

    @staticmethod
    def keys(column: Any, descending: bool) -> list[SortKey]:
        return list_keys(column, descending, ScimGroup.created_at, ScimGroup.id)

    def search(self, query: ListQuery, condition: Any = None) -> tuple[int, list[ScimGroup]]:
        segment = self.segment(query, condition)
        total, items = index_list(self.session, [segment], query.start_index - 1, query.count)
        return total, [row for _, row in items]

    @staticmethod
    def sort_column(sort_by: str) -> Any:
        from scim_plugin.core.schemas import resolve_path

        path = resolve_path(GROUP_RESOURCE, sort_by)
        if path is None:
            raise errors.InvalidValue(f"Unknown sortBy attribute {sort_by!r}.")
        key = path.attribute.name.lower() + (f".{path.sub.name.lower()}" if path.sub else "")
        if key not in SORTABLE:
            raise errors.InvalidValue(f"Cannot sort by {sort_by!r}.")
        return SORTABLE[key]

    def members(self, group_ids: Sequence[str]) -> dict[str, list[str]]:
        """The member ids of ``group_ids``, in one query on the primary key; callers bound the size.

        ``display`` (readOnly) is not returned: it would need the users' documents, and no IdP reads it.
        """
        found: dict[str, list[str]] = {group_id: [] for group_id in group_ids}
        if not group_ids:
            return found
        # Plain strings straight from the driver's cursor, without a Row per member: a group may have
        # thousands, and building the rows cost twice the query.
        result = self.session.connection().execute(
            _MEMBERS_OF, {"tenant": self.tenant_id, "groups": list(group_ids)}
        )
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
        for group_id, user_id in rows:
            found[group_id].append(user_id)
        return found

    def groups_of(self, user_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """(group id, displayName) of the groups of each user, in one query per call."""
        found: dict[str, list[tuple[str, str]]] = {}
        if not user_ids:
            return found
        params = {"tenant": self.tenant_id, "users": list(user_ids)}
        rows = self.session.execute(_GROUPS_OF, params).all()
        for user_id, group_id, name in rows:
            found.setdefault(user_id, []).append((group_id, name))
        return found

    def member_id_list(self, group_id: str) -> list[str]:
        """Every member id of a group: only for mapped groups, whose members' grants must be recomputed."""
        return list(
            self.session.execute(
                select(ScimGroupMember.member_id).where(
                    ScimGroupMember.tenant_id == self.tenant_id, ScimGroupMember.group_id == group_id
                )
            ).scalars()
        )

    def for_write(self, group_id: str, *, lock: bool = True) -> tuple[ScimGroup, bool]:
        """The group for a write, and whether it is mapped, in one round trip. With ``lock``, its row lock
        makes concurrent changes to one group queue up instead of failing each other's version check
        (PostgreSQL; SQLite serialises writers anyway)."""
        statement = _GROUP_FOR_WRITE if lock else _GROUP_AND_MAPPED
        found = self.session.execute(statement, {"tenant": self.tenant_id, "group": group_id}).one_or_none()
        if found is None:
            raise errors.NotFound(f"Group {group_id} not found.")
        return found[0], bool(found[1])

    # -- writes --------------------------------------------------------------------------------------

    def create(self, body: Any) -> ScimGroup:
        resource = normalize_input(body, GROUP_RESOURCE)
        ids = member_ids(resource.pop("members", None), "members")
        now = utcnow()
        row = ScimGroup(id=new_id(), tenant_id=self.tenant_id, version=1, created_at=now, updated_at=now)
        self._fill(row, resource)
        self._check_known(ids)
        # Every id is a known user and the group is new: each one becomes a member.
        row.member_count = len(dict.fromkeys(ids))
        self.session.add(row)
        self._flush_unique(row.display_name)
        self._add(row.id, ids)
        return row

    def note_first_group(self) -> None:
        """Set the tenant's ``has_groups`` (never cleared): from now on user reads look for groups."""
        self.session.execute(_FIRST_GROUP, {"tenant": self.tenant_id})

    def replace(self, group_id: str, body: Any, if_match: str | None) -> tuple[ScimGroup, bool]:
        row, mapped = self.for_write(group_id)
        self._check_version(row, if_match)
        new = normalize_input(body, GROUP_RESOURCE)
        ids = member_ids(new.pop("members", None), "members")
        old = self._stored(row)
        check_immutable(old, new, GROUP_RESOURCE)
        merged = merge_for_put(old, new, GROUP_RESOURCE)
        before = self.member_id_list(row.id) if mapped else []
        self._check_known(ids)
        change = self._replace(row.id, ids)
        changed = change != (0, 0)
        wrote = self._save(row, old, merged, change, if_match)
        if mapped and changed:
            self.apply_grants([*before, *ids])
        return row, wrote

    def patch(self, group_id: str, operations: Any, if_match: str | None) -> tuple[ScimGroup, bool]:
        document_ops, member_ops = split_operations(operations)
        # Members added or removed by id, nothing else, no If-Match: every IdP membership PATCH. Its
        # statements are safe against concurrent ones and the version moves in its own UPDATE, so the
        # group row is locked from that UPDATE to the commit, not from the first read: concurrent PATCHes
        # of one group (an initial sync) queue for less time. A mapped group is locked from the start:
        # its grants follow the member list. MariaDB and MySQL lock it from the start too: they have no
        # ON CONFLICT DO NOTHING that would let two such PATCHes add one member side by side.
        members_only = (
            not document_ops and if_match is None and all(op.op != "replace" and op.ids for op in member_ops)
        ) and not self._mysql()
        row, mapped = self.for_write(group_id, lock=not members_only)
        if members_only and mapped and member_ops:
            row, mapped = self.for_write(group_id)
        self._check_version(row, if_match)
        old = self._stored(row)
        new = apply_patch(old, document_ops, GROUP_RESOURCE).resource if document_ops else old
        # Ids to add are checked after their INSERT ... SELECT, which skips unknown ones: only when it
        # added fewer than asked (some unknown, or members already) does a check run. Any 400 rolls
        # the whole request back.
        self._check_known([i for op in member_ops if op.op == "replace" for i in op.ids or ()])
        mapped = bool(member_ops) and mapped
        affected: list[str] = []
        added = removed = 0
        for op in member_ops:
            if mapped:
                affected += op.ids or ()
                if op.op == "replace" or op.ids is None:
                    affected += self.member_id_list(row.id)
            if op.op == "add":
                ids = op.ids or ()
                plus = self._add(row.id, ids)
                if plus < len(set(ids)):
                    self._check_known(ids)
                added += plus
            elif op.op == "remove":
                removed += self._remove(row.id, op.ids)
            else:
                plus, minus = self._replace(row.id, op.ids or ())
                added, removed = added + plus, removed + minus
        changed = bool(added or removed)
        wrote = self._save(row, old, new, (added, removed), if_match)
        if mapped and changed:
            self.apply_grants(affected)
        return row, wrote

    def delete(self, group_id: str, if_match: str | None) -> None:
        row, mapped = self.for_write(group_id)
        versions = if_match_versions(if_match)
        stmt = delete(ScimGroup).where(ScimGroup.tenant_id == self.tenant_id, ScimGroup.id == row.id)
        if versions is not None:
            stmt = stmt.where(ScimGroup.version.in_(versions or [-1]))
        before = self.member_id_list(row.id) if mapped else []
        # Explicit deletes: SQLite enforces ON DELETE CASCADE only with PRAGMA foreign_keys.
        self.session.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == row.id))
        self.session.execute(delete(ScimGroupMapping).where(ScimGroupMapping.group_id == row.id))
        result = self.session.execute(stmt.execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise errors.PreconditionFailed("The group was changed by someone else (If-Match failed).")
        self.session.expunge(row)
        if before:
            self.apply_grants(before)

    # -- membership SQL ------------------------------------------------------------------------------

    def _check_known(self, ids: Sequence[str]) -> None:
        """400 naming the ids that are not users of this tenant (nested groups are not supported)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return
        known: set[str] = set()
        for part in chunks(wanted):
            known.update(self.session.execute(_KNOWN, {"tenant": self.tenant_id, "ids": part}).scalars())
        unknown = [i for i in wanted if i not in known]
        if unknown:
            shown = ", ".join(f'"{i}"' for i in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise errors.InvalidValue(f"Unknown member id(s) {shown}: no such user in this tenant.")

    def _add(self, group_id: str, ids: Sequence[str]) -> int:
        """``INSERT ... SELECT`` the ids that are users of the tenant and not members yet."""
        added = 0
        dialect = self.session.get_bind(mapper=ScimGroupMember).dialect
        statement = _ADD_POSTGRESQL if dialect.name == "postgresql" else _ADD
        for part in chunks(list(ids)):
            params = {"tenant": self.tenant_id, "group": group_id, "ids": list(part)}
            try:
                if dialect.insert_returning:
                    added += len(self.session.execute(statement, params).all())
                else:  # MySQL: no RETURNING, and its driver counts what an INSERT ... SELECT wrote
                    added += self.session.execute(_ADD_ROWS, params).rowcount  # type: ignore[attr-defined]
            except IntegrityError as exc:
                # PostgreSQL: the group (read unlocked, see ``patch``) or a user was deleted by a
                # transaction that committed while this INSERT waited on its row. Answered as the
                # PATCH would be a moment later; the error handler rolls the request back.
                violated = _violated_constraint(exc)
                if violated == _GROUP_KEY:
                    raise errors.NotFound(f"Group {group_id} not found.") from None
                if violated == _MEMBER_KEY:
                    raise errors.InvalidValue(
                        "A user being added was deleted meanwhile: no such user in this tenant."
                    ) from None
                raise
        return added

    def _remove(self, group_id: str, ids: Sequence[str] | None) -> int:
        scope = and_(ScimGroupMember.tenant_id == self.tenant_id, ScimGroupMember.group_id == group_id)
        if ids is None:
            result = self.session.execute(delete(ScimGroupMember).where(scope))
            return result.rowcount or 0  # type: ignore[attr-defined]
        removed = 0
        for part in chunks(list(ids)):
            params = {"tenant": self.tenant_id, "group": group_id, "ids": list(part)}
            removed += self.session.execute(_REMOVE, params).rowcount or 0  # type: ignore[attr-defined]
        return removed

    def _replace(self, group_id: str, ids: Sequence[str]) -> tuple[int, int]:
        """Make the members exactly ``ids`` (already validated); (members added, members removed)."""
        scope = and_(ScimGroupMember.tenant_id == self.tenant_id, ScimGroupMember.group_id == group_id)
        if len(ids) <= CHUNK:
            stmt = delete(ScimGroupMember).where(scope)
            if ids:
                stmt = stmt.where(ScimGroupMember.member_id.not_in(list(ids)))
            removed = self.session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]
        else:
            # Too many ids for one NOT IN: compare with the current members (bounded by the request).
            keep = set(ids)
            gone = [i for i in self.member_id_list(group_id) if i not in keep]
            removed = self._remove(group_id, gone) if gone else 0
        return self._add(group_id, ids), removed

    # -- grants --------------------------------------------------------------------------------------

    def apply_grants(self, user_ids: Iterable[str]) -> int:
        """Recompute what mapped groups grant each user and hand it to the host; returns the calls made."""
        wanted = list(dict.fromkeys(user_ids))
        calls = 0
        documents = UserStore(self.state, self.tenant_id, None)
        for part in chunks(wanted):
            users = self.session.execute(
                select(ScimUser.id, ScimUser.host_user_id)
                .where(ScimUser.tenant_id == self.tenant_id, ScimUser.id.in_(part))
                .order_by(ScimUser.id)
            ).all()
            grants: dict[str, list[dict[str, Any]]] = {}
            rows = self.session.execute(
                select(ScimGroupMember.member_id, ScimGroupMapping.grants)
                .join(ScimGroupMapping, ScimGroupMapping.group_id == ScimGroupMember.group_id)
                .join(ScimGroup, ScimGroup.id == ScimGroupMember.group_id)
                .where(ScimGroupMember.tenant_id == self.tenant_id, ScimGroupMember.member_id.in_(part))
                .order_by(ScimGroup.created_at, ScimGroup.id)
            ).all()
            for member_id, item in rows:
                grants.setdefault(member_id, []).append(item or {})
            for user_id, host_user_id in users:
                if host_user_id is None:
                    continue
                handled = self.state.hook.scim_apply_group_grants(
                    tenant_id=self.tenant_id,
                    host_user_id=host_user_id,
                    grants=union_grants(grants.get(user_id, [])),
                )
                if handled is None:
                    raise errors.NotImplementedFeature(
                        "No host implementation applies group grants (scim_apply_group_grants)."
                    )
                calls += 1
                # What SCIM shows of the user's grants is what the host now holds.
                documents.refresh(user_id=user_id)
        self.session.flush()
        return calls

    # -- helpers -------------------------------------------------------------------------------------

    def _mysql(self) -> bool:
        return self.session.get_bind(mapper=ScimGroup).dialect.name in MYSQL_DIALECTS

    def _update_returning(
        self, statement: Any, params: dict[str, Any], row: ScimGroup, delta: int, returning: Any = None
    ) -> Any:
        """The group's ``version`` and ``member_count`` as ``statement`` (an UPDATE of the group that
        moves them by 1 and ``delta``) wrote them, or None when it matched no row; ``returning`` is the
        statement with its RETURNING clause, when built beforehand. MariaDB and MySQL have no UPDATE ...
        RETURNING, but there every write read ``row`` under its lock (see ``patch``): what the UPDATE
        wrote follows from it, without a read."""
        if self.session.get_bind(mapper=ScimGroup).dialect.update_returning:
            returning = statement.returning(*_WRITTEN) if returning is None else returning
            return self.session.execute(returning, params).one_or_none()
        if self.session.execute(statement, params).rowcount == 0:  # type: ignore[attr-defined]
            return None
        return _Written(row.version + 1, row.member_count + delta)

    def _stored(self, row: ScimGroup) -> dict[str, Any]:
        resource = copy.deepcopy(row.resource)
        resource["id"] = row.id
        return resource

    def _check_version(self, row: ScimGroup, if_match: str | None) -> None:
        versions = if_match_versions(if_match)
        if versions is not None and row.version not in versions:
            raise errors.PreconditionFailed("The group was changed by someone else (If-Match failed).")

    @staticmethod
    def _columns(resource: dict[str, Any]) -> dict[str, Any]:
        name = resource.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise errors.InvalidValue("displayName is required.")
        if "\x00" in name:
            raise errors.InvalidValue("displayName may not contain NUL characters.")
        if len(name) > 255:
            raise errors.InvalidValue("displayName may not be longer than 255 characters.")
        external = resource.get("externalId")
        if isinstance(external, str) and "\x00" in external:
            raise errors.InvalidValue("externalId may not contain NUL characters.")
        return {
            "display_name": name,
            "display_name_norm": fold(name)[:255],
            "external_id": external[:255] if isinstance(external, str) else None,
        }

    def _fill(self, row: ScimGroup, resource: dict[str, Any]) -> None:
        for key in READ_ONLY_KEYS:
            resource.pop(key, None)
        for column, value in self._columns(resource).items():
            setattr(row, column, value)
        row.resource = resource

    def _flush_unique(self, display_name: str) -> None:
        # Not in a savepoint (see UserStore._save): the API's error handler rolls the request back.
        try:
            self.session.flush()
        except IntegrityError:
            raise errors.Uniqueness(f'A group with displayName "{display_name}" already exists.') from None

    def _save(
        self,
        row: ScimGroup,
        old: dict[str, Any],
        new: dict[str, Any],
        member_change: tuple[int, int],
        if_match: str | None = None,
    ) -> bool:
        """Write the document (and bump the version) when it or the members changed; True if written.

        ``member_change`` is (members added, members removed) by the membership SQL already run; the
        count moves by their difference in the same UPDATE. A change to the members alone, without
        ``If-Match``, bumps the version atomically (``version = version + 1``): the member SQL is already
        safe against concurrent changes, so two IdP requests adding different members must not fail each
        other with 412. The row takes what was written (RETURNING), so the response needs no re-read.
        """
        new = {k: v for k, v in new.items() if k not in READ_ONLY_KEYS}
        same = new == {k: v for k, v in old.items() if k not in READ_ONLY_KEYS}
        added, removed = member_change
        if same and not (added or removed):
            return False
        now = utcnow()
        if same and if_match is None:
            # The members alone (every IdP membership PATCH): one prepared statement.
            params = {"tenant": self.tenant_id, "group": row.id, "delta": added - removed, "now": now}
            moved_only = self._update_returning(
                _MEMBERS_MOVED, params, row, added - removed, _MEMBERS_MOVED_RETURNING
            )
            if moved_only is None:
                raise errors.NotFound(f"Group {row.id} not found.")
            set_committed_value(row, "version", moved_only.version)
            set_committed_value(row, "member_count", moved_only.member_count)
            set_committed_value(row, "updated_at", now)
            return True
        moved = {"version": ScimGroup.version + 1, "member_count": ScimGroup.member_count + (added - removed)}
        condition = [
            ScimGroup.tenant_id == self.tenant_id,
            ScimGroup.id == row.id,
            ScimGroup.version == row.version,
        ]
        values = {**self._columns(new), "resource": new}
        try:
            written = self._update_returning(
                update(ScimGroup)
                .where(*condition)
                .values(**values, **moved, updated_at=now)
                .execution_options(synchronize_session=False),
                {},
                row,
                added - removed,
            )
        except IntegrityError:
            raise errors.Uniqueness(
                f'A group with displayName "{values["display_name"]}" already exists.'
            ) from None
        if written is None:
            raise errors.PreconditionFailed("The group was changed by someone else; fetch it and retry.")
        for column, value in {
            **values,
            "version": written.version,
            "member_count": written.member_count,
        }.items():
            set_committed_value(row, column, value)
        set_committed_value(row, "updated_at", now)
        return True


# Statements of every membership PATCH, built once (building them per request costs more than running
# them); ``ids`` are expanding parameters.
_THIS_GROUP = (ScimGroup.tenant_id == bindparam("tenant"), ScimGroup.id == bindparam("group"))
_GROUP = select(ScimGroup).where(*_THIS_GROUP)
_GROUP_AND_MAPPED = select(
    ScimGroup,
    exists()
    .where(ScimGroupMapping.tenant_id == bindparam("tenant"), ScimGroupMapping.group_id == ScimGroup.id)
    .label("mapped"),
).where(*_THIS_GROUP)
# populate_existing: a PATCH that read the group unlocked and then finds it mapped reads it again.
_GROUP_FOR_WRITE = _GROUP_AND_MAPPED.with_for_update(of=ScimGroup).execution_options(populate_existing=True)
_KNOWN = select(ScimUser.id).where(
    ScimUser.tenant_id == bindparam("tenant"), ScimUser.id.in_(bindparam("ids", expanding=True))
)
_TENANTS = TenantSettings.__table__
_FIRST_GROUP = (
    update(_TENANTS)
    .where(_TENANTS.c.tenant_id == bindparam("tenant"), _TENANTS.c.has_groups == false())
    .values(has_groups=True)
)
_MEMBER_TABLE, _GROUP_TABLE = ScimGroupMember.__table__, ScimGroup.__table__
# RETURNING, not rowcount: psycopg reports -1 for INSERT ... SELECT.
# The tenant's users among ``ids`` that are not members yet, as member rows.
_NEW_MEMBERS = select(bindparam("group", type_=String), ScimUser.id, bindparam("tenant", type_=String)).where(
    ScimUser.tenant_id == bindparam("tenant"),
    ScimUser.id.in_(bindparam("ids", expanding=True)),
    ~exists(
        select(_MEMBER_TABLE.c.member_id).where(
            _MEMBER_TABLE.c.group_id == bindparam("group"), _MEMBER_TABLE.c.member_id == ScimUser.id
        )
    ),
)
_MEMBER_COLUMNS = ["group_id", "member_id", "tenant_id"]
# The member table's foreign keys, by column (their names follow the metadata's naming convention).
_KEYS = {next(iter(c.columns)).name: c.name for c in _MEMBER_TABLE.foreign_key_constraints}
_GROUP_KEY, _MEMBER_KEY = _KEYS["group_id"], _KEYS["member_id"]
_ADD_ROWS = insert(_MEMBER_TABLE).from_select(_MEMBER_COLUMNS, _NEW_MEMBERS)
_ADD = _ADD_ROWS.returning(_MEMBER_TABLE.c.member_id)
# PostgreSQL runs concurrent PATCHes of one group side by side (see ``GroupStore.patch``): a member that
# another one has just added, not yet committed, is skipped once it commits instead of failing on the
# primary key. (SQLite has one writer at a time; its NOT EXISTS suffices.)
_ADD_POSTGRESQL = (
    postgresql.insert(_MEMBER_TABLE)
    .from_select(_MEMBER_COLUMNS, _NEW_MEMBERS)
    .on_conflict_do_nothing(index_elements=["group_id", "member_id"])
    .returning(_MEMBER_TABLE.c.member_id)
)
_MEMBERS_OF = (
    select(_MEMBER_TABLE.c.group_id, _MEMBER_TABLE.c.member_id)
    .where(
        _MEMBER_TABLE.c.tenant_id == bindparam("tenant"),
        _MEMBER_TABLE.c.group_id.in_(bindparam("groups", expanding=True)),
    )
    .order_by(_MEMBER_TABLE.c.group_id, _MEMBER_TABLE.c.member_id)
)
# Every user read once the tenant has groups: built once, on the tables (no ORM work per statement).
_GROUPS_OF = (
    select(_MEMBER_TABLE.c.member_id, _GROUP_TABLE.c.id, _GROUP_TABLE.c.display_name)
    .join(_GROUP_TABLE, _GROUP_TABLE.c.id == _MEMBER_TABLE.c.group_id)
    .where(
        _MEMBER_TABLE.c.tenant_id == bindparam("tenant"),
        _MEMBER_TABLE.c.member_id.in_(bindparam("users", expanding=True)),
    )
    .order_by(_GROUP_TABLE.c.display_name_norm, _GROUP_TABLE.c.id)
)
_REMOVE = delete(_MEMBER_TABLE).where(
    _MEMBER_TABLE.c.tenant_id == bindparam("tenant"),
    _MEMBER_TABLE.c.group_id == bindparam("group"),
    _MEMBER_TABLE.c.member_id.in_(bindparam("ids", expanding=True)),
)
_MEMBERS_MOVED = (
    update(_GROUP_TABLE)
    .where(_GROUP_TABLE.c.tenant_id == bindparam("tenant"), _GROUP_TABLE.c.id == bindparam("group"))
    .values(
        version=_GROUP_TABLE.c.version + 1,
        member_count=_GROUP_TABLE.c.member_count + bindparam("delta"),
        updated_at=bindparam("now"),
    )
)
# What a group's UPDATE wrote: its RETURNING clause, or (MariaDB, MySQL) worked out from the locked row.
_WRITTEN = (_GROUP_TABLE.c.version, _GROUP_TABLE.c.member_count)
_MEMBERS_MOVED_RETURNING = _MEMBERS_MOVED.returning(*_WRITTEN)


class _Written(NamedTuple):
    version: int
    member_count: int


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an integrity error names: psycopg's diagnostics on PostgreSQL, the
    message of errors 1452 and 1451 on MariaDB and MySQL (``... CONSTRAINT `name` FOREIGN KEY ...``)."""
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    if name is None:
        found = _MYSQL_CONSTRAINT.search(str(exc.orig))
        name = found.group(1) if found else None
    return name


_MYSQL_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`")


def group_meta(row: ScimGroup, location: str) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "created": format_datetime(row.created_at),
        "lastModified": format_datetime(row.updated_at),
        "location": location,
        "version": etag(row.version),
    }


def group_document(
    row: ScimGroup, location: str, members: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The canonical group (before projection); ``members`` only when the caller loaded them."""
    resource = copy.deepcopy(row.resource)
    resource.setdefault("schemas", [GROUP_URN])
    resource["id"] = row.id
    if members:
        resource["members"] = members
    resource["meta"] = group_meta(row, location)
    return resource
