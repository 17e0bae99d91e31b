"""`manage.py seed_demo`: a demo channel, customers with orders, and a superuser API token.

Idempotent: records are found by their natural keys, so a second run creates nothing twice. The
demo user's token is replaced on every run (keys are stored hashed and cannot be shown again).
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

from django.db import transaction

from saleschannel.accounts.models import ApiToken
from saleschannel.accounts.services import api_user_create
from saleschannel.channels.models import Channel, ChannelType
from saleschannel.core.commands import JSONCommand
from saleschannel.customers.models import Customer
from saleschannel.orders.models import Order

DEMO_CUSTOMERS = [
    {
        "channel_code": "DEMO-0001",
        "email": "ayse.yilmaz@example.com",
        "first_name": "Ayşe",
        "last_name": "Yılmaz",
        "phone_number": "+905551112233",
        "is_active": True,
        "erp_code": "ERP-1001",
        "attributes": {"segment": "gold", "visits": 12},
        "email_allowed": True,
        "sms_allowed": False,
        "call_allowed": False,
        "gender": "female",
        "user_type": "registered",
        "date_of_birth": dt.date(1990, 4, 1),
        "date_joined": dt.datetime(2021, 3, 5, 10, 0, tzinfo=dt.UTC),
    },
    {
        "channel_code": "DEMO-0002",
        "email": "john.smith@example.com",
        "first_name": "John",
        "last_name": "Smith",
        "is_active": True,
        "erp_code": "ERP-1002",
        "attributes": {"segment": "silver"},
        "email_allowed": False,
        "sms_allowed": True,
        "call_allowed": True,
        "gender": "male",
        "user_type": "guest",
    },
    {
        "channel_code": "DEMO-0003",
        "email": "guest@example.com",
        "is_active": False,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    },
]

DEMO_ORDERS = [
    ("DEMO-0001", "ORD-1", "550", "TRY", "120.50", "10.00", "0.00"),
    ("DEMO-0001", "ORD-2", "550", "TRY", "79.99", "0.00", "79.99"),
    ("DEMO-0002", "ORD-3", "400", "EUR", "15.00", "1.50", "0.00"),
]


class Command(JSONCommand):
    help = "Create the demo channel, customers, orders and a superuser API token (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        channel, _ = Channel.objects.get_or_create(
            name="Demo web shop",
            defaults={"channel_type": ChannelType.WEB, "catalog": 1, "conf": {"locale": "tr-TR"}},
        )
        customers = {}
        for data in DEMO_CUSTOMERS:
            fields = {key: value for key, value in data.items() if key != "channel_code"}
            customers[data["channel_code"]], _ = Customer.objects.get_or_create(
                channel=channel, channel_code=data["channel_code"], defaults=fields
            )
        for code, number, status, currency, amount, discount, refund in DEMO_ORDERS:
            Order.objects.get_or_create(
                channel=channel,
                number=number,
                defaults={
                    "customer": customers[code],
                    "status": status,
                    "currency": currency,
                    "amount": Decimal(amount),
                    "discount_amount": Decimal(discount),
                    "refund_amount": Decimal(refund),
                },
            )
        password = os.environ.get("DEMO_PASSWORD", "demo-password")
        ApiToken.objects.filter(user__username="demo").delete()
        user, key = api_user_create(username="demo", password=password, superuser=True)
        self.emit(
            {
                "channel": channel.pk,
                "customers": len(customers),
                "username": user.get_username(),
                "password": password,
                "token": key,
            }
        )
