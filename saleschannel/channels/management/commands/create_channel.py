"""`manage.py create_channel --name NAME --channel-type TYPE --catalog N` → the channel as JSON."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from saleschannel.channels.models import ChannelType
from saleschannel.channels.serializers import ChannelSerializer
from saleschannel.channels.services import channel_create
from saleschannel.core.commands import JSONCommand


class Command(JSONCommand):
    help = "Create a sales channel and print it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--channel-type", required=True, choices=ChannelType.values)
        parser.add_argument("--catalog", required=True, type=int)
        parser.add_argument(
            "--inactive", action="store_true", help="create it with is_active=false"
        )

    def handle(self, *args, **options):
        try:
            channel = channel_create(
                data={
                    "name": options["name"],
                    "channel_type": options["channel_type"],
                    "catalog": options["catalog"],
                    "is_active": not options["inactive"],
                }
            )
        except ValidationError as exc:
            raise CommandError(exc.message_dict) from exc
        self.emit(ChannelSerializer(channel).data)
