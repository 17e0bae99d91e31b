from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "saleschannel.core"
    label = "core"

    def ready(self) -> None:
        from django.conf import settings

        from . import db  # noqa: F401  (registers SQLite functions on connect)
        from .throttling import parse_rate

        # A malformed rate must stop the server from starting, not fail every request.
        parse_rate(settings.RATE_LIMIT_PER_TOKEN)
