"""Where SCIM resources live: the database side of the plugin.

Owns the tables (``models``) and their Alembic migrations (``migrate``), the user and group stores
that turn protocol operations into SQL, filters compiled to SQL (``sql_filters``), index and cursor
paging, the SQLite writers' queue, and the group-mapping rules applied to members. Built on
:mod:`scim_plugin.core`; knows nothing of HTTP, tokens or the admin page.
"""
