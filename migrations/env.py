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


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
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
