"""Database layer: Peewee models bound through a DatabaseProxy, connection and migrations."""

from cockpit.db.connection import database_proxy, open_database, close_database, sqlite_path
from cockpit.db.migrate import migrate, pending_migrations, applied_migrations

__all__ = [
    "database_proxy",
    "open_database",
    "close_database",
    "sqlite_path",
    "migrate",
    "pending_migrations",
    "applied_migrations",
]
