"""Alembic environment for scim-plugin's own tables (version table ``alembic_version_scim``).

Used through ``scim_plugin.storage.migrate`` (``flask scim db ...``), which passes an open connection in
``config.attributes["connection"]``. Only ``scim_*`` tables are compared, so autogenerate and
``check`` never propose touching the host's tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from scim_plugin.storage.migrate import VERSION_TABLE
from scim_plugin.storage.models import ScimBase

config = context.config
target_metadata = ScimBase.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "table":
        return bool(name) and name.startswith("scim_")
    return True


# MariaDB and MySQL hold the one-active-token rule in a generated column of their own (revision 0001):
# the models state it as PostgreSQL's and SQLite's partial index, so neither side is compared there.
MYSQL_ONLY = {("index", "uq_scim_tokens_active_tenant"), ("column", "active_tenant_id")}


def run(connection) -> None:  # type: ignore[no-untyped-def]
    on_mysql = connection.dialect.name in ("mysql", "mariadb")

    def include_object(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
        return not (on_mysql and (type_, name) in MYSQL_ONLY)

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        run(conn)
