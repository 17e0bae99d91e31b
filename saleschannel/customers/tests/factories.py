from typing import Any

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


def customer_body(email: str, channel_code: str | None = None) -> dict[str, Any]:
    """The smallest valid request body for a customer (its channel code defaults to the part of
    `email` before the @)."""
    return {
        "email": email,
        "channel_code": email.split("@")[0] if channel_code is None else channel_code,
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    }
