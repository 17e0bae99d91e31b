"""The Order model: only what `orders_info` needs (not in the spec's paths)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone


class Order(models.Model):
    channel = models.ForeignKey("channels.Channel", on_delete=models.PROTECT, related_name="orders")
    # PROTECT: a customer with orders cannot be deleted (DELETE answers 400, code "protected").
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders"
    )
    number = models.CharField(max_length=128)
    status = models.CharField(max_length=8)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    discount_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    created_date = models.DateTimeField(default=timezone.now)
    modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "number"], name="order_channel_number_uniq"),
        ]

    def __str__(self) -> str:
        return f"order {self.number} (channel {self.channel_id})"
