from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "saleschannel.core"
    label = "core"

    def ready(self) -> None:
        from . import db  # noqa: F401  (registers SQLite functions on connect)
