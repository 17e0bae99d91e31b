"""Database helpers that keep SQLite and PostgreSQL answering the same way."""

from __future__ import annotations

from django.db import models
from django.db.backends.signals import connection_created
from django.dispatch import receiver

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _unicode_upper(value: str | None) -> str | None:
    return value.upper() if isinstance(value, str) else value


@receiver(connection_created)
def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        # SQLite's UPPER() folds ASCII only; PostgreSQL's folds all of Unicode.
        connection.connection.create_function(
            "unicode_upper", 1, _unicode_upper, deterministic=True
        )


class UnicodeUpper(models.Func):
    """UPPER() with Unicode case folding on both databases."""

    function = "UPPER"
    arity = 1
    output_field = models.TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="unicode_upper", **extra_context)
