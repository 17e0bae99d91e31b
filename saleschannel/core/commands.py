"""Management commands print one JSON document on stdout, so scripts can use them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from saleschannel.core.renderers import dumps


class JSONCommand(BaseCommand):
    def emit(self, data: Any) -> None:
        self.stdout.write(dumps(data).decode())
