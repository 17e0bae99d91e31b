"""`manage.py purge_idempotency_records`: delete Idempotency-Key records older than their TTL."""

from saleschannel.core.commands import JSONCommand
from saleschannel.core.idempotency import purge_expired


class Command(JSONCommand):
    help = "Delete Idempotency-Key records older than IDEMPOTENCY_TTL_SECONDS (24 h)."

    def handle(self, *args, **options):
        self.emit({"deleted": purge_expired()})
