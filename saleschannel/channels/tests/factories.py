import factory

from saleschannel.channels.models import Channel, ChannelType


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Channel {n}")
    catalog = factory.Sequence(lambda n: n + 1)
    channel_type = ChannelType.WEB
    conf = factory.LazyFunction(dict)
