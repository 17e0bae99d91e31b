"""Health endpoints for load balancers and orchestrators (no auth, JSON, no redirect).

- `GET /healthz`: the process answers.
- `GET /readyz`: the database answers and every migration is applied; else 503.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

logger = logging.getLogger("saleschannel.health")
_migrations_seen_applied = False


def _migrations_applied() -> bool:
    # Once every migration is applied it stays so for this process's lifetime: check once.
    global _migrations_seen_applied
    if not _migrations_seen_applied:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        _migrations_seen_applied = not plan
    return _migrations_seen_applied


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        migrated = _migrations_applied()
    except DatabaseError as exc:
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return JsonResponse(
            {
                "status": "unavailable",
                "database": "unreachable",
                "detail": "The database is unreachable.",
                "code": "service_unavailable",
            },
            status=503,
        )
    if not migrated:
        return JsonResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "migrations": "pending",
                "detail": "Migrations are not applied.",
                "code": "service_unavailable",
            },
            status=503,
        )
    return JsonResponse({"status": "ready", "database": "ok", "migrations": "ok"})
