"""`manage.py create_api_user USERNAME [--password P] [--superuser] [--channels 1,2] [--read-only]`.

Prints `{"username": ..., "token": ...}`. The token is shown only this once (it is stored hashed).
Running it for an existing user updates its flags and grants and issues one more token.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from saleschannel.accounts.services import api_user_create
from saleschannel.core.commands import JSONCommand


def channel_id_list(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise CommandError("--channels takes comma-separated channel ids, e.g. 1,2") from exc


class Command(JSONCommand):
    help = "Create or update an API user and print a new token for it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", default=None)
        parser.add_argument(
            "--superuser", action="store_true", help="sees and writes every channel"
        )
        parser.add_argument("--channels", type=channel_id_list, default=[], help="e.g. 1,2")
        parser.add_argument("--read-only", action="store_true", help="no write permissions")

    def handle(self, *args, **options):
        try:
            user, key = api_user_create(
                username=options["username"],
                password=options["password"],
                superuser=options["superuser"],
                channel_ids=options["channels"],
                read_only=options["read_only"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.emit({"username": user.get_username(), "token": key})
