import factory

from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    channel = factory.SubFactory(ChannelFactory)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    channel_code = factory.Sequence(lambda n: f"CODE-{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    is_active = True
    email_allowed = False
    sms_allowed = False
    call_allowed = False
