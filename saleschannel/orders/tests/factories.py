from decimal import Decimal

import factory

from saleschannel.customers.tests.factories import CustomerFactory
from saleschannel.orders.models import Order


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    channel = factory.SelfAttribute("customer.channel")
    number = factory.Sequence(lambda n: f"ORD-{n:08d}")
    status = "400"
    currency = "TRY"
    amount = Decimal("100.00")
    discount_amount = Decimal("0.00")
    refund_amount = Decimal("0.00")
