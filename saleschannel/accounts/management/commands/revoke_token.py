"""`manage.py revoke_token KEY_OR_PREFIX` or `manage.py revoke_token --user USERNAME`.

Deletes the token (found by its key, or by the 8-character prefix shown in the admin) or every
token of a user. The next request with a revoked token gets 401. Prints `{"revoked": n}`.
"""

from django.core.management.base import CommandError

from saleschannel.accounts.models import ApiToken, hash_token
from saleschannel.core.commands import JSONCommand


class Command(JSONCommand):
    help = "Revoke an API token (by key or prefix) or every token of a user."

    def add_arguments(self, parser):
        parser.add_argument("token", nargs="?", help="the key, or its first 8 characters")
        parser.add_argument("--user", help="revoke every token of this username")

    def handle(self, *args, **options):
        token, username = options["token"], options["user"]
        if bool(token) == bool(username):
            raise CommandError("Give either a token (key or prefix) or --user USERNAME.")
        if username:
            tokens = ApiToken.objects.filter(user__username=username)
        elif len(token) > 8:
            tokens = ApiToken.objects.filter(digest=hash_token(token))
        else:
            tokens = ApiToken.objects.filter(prefix=token)
            if tokens.count() > 1:
                raise CommandError("That prefix matches several tokens; give the whole key.")
        if not tokens.exists():
            raise CommandError("No such token.")
        revoked, _ = tokens.delete()
        self.emit({"revoked": revoked})
