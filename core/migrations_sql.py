"""SQL kept in named files beside an app's migrations, applied for one database vendor, with a working reverse.

Triggers guard what no constraint can say (the append-only ledger, frozen
settlements, issued statements). Each is written once, in
``<app>/sql/<name>.<vendor>.sql``, with its reverse in
``<name>.<vendor>.reverse.sql``; a migration applies it with :class:`RunSQLFile`.

A guard may be suspended only by :func:`guards_suspended`, which the test
suite uses to empty its database between transactional tests (PostgreSQL
flushes with TRUNCATE, SQLite with DELETE). Nothing in the product calls it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from django.db import connections, migrations

# SQLite's triggers ask this function whether guards are suspended on this connection; a connection
# without it (the sqlite3 shell, say) fails the trigger's check and so refuses the write.
SQLITE_GUARD_FUNCTION = "guards_suspended"
POSTGRES_GUARD_SETTING = "guards.suspended"
_suspended: set[str] = set()


class RunSQLFile(migrations.RunSQL):
    """``RunSQL`` from ``<app>/sql/<name>.<vendor>.sql`` (and its ``.reverse.sql``), run on that vendor only."""

    def __init__(self, migration_file: str, name: str, *, vendor: str) -> None:
        folder = Path(migration_file).resolve().parent.parent / "sql"
        self.vendor = vendor
        super().__init__(
            sql=(folder / f"{name}.{vendor}.sql").read_text(encoding="utf-8"),
            reverse_sql=(folder / f"{name}.{vendor}.reverse.sql").read_text(encoding="utf-8"),
            elidable=False,
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def sqlite_guard_function_register(sender, connection, **kwargs) -> None:
    """Give every SQLite connection the function its guard triggers call (see the module docstring)."""
    if connection.vendor == "sqlite":
        alias = connection.alias
        connection.connection.create_function(
            SQLITE_GUARD_FUNCTION, 0, lambda: int(alias in _suspended), deterministic=False
        )


@contextlib.contextmanager
def guards_suspended(using: str = "default"):
    """Let the database's guard triggers through on this connection for the block (test database resets only)."""
    connection = connections[using]
    _suspended.add(using)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', false)", [POSTGRES_GUARD_SETTING])
    try:
        yield
    finally:
        _suspended.discard(using)
        if connection.vendor == "postgresql" and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'off', false)", [POSTGRES_GUARD_SETTING])
