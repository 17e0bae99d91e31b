"""Admin for orders: the same large-table rules as customers (saleschannel.customers.admin):
capped counts, -pk order, bounded filter choices for the free-text status and currency, no bulk
actions. An order's customer must belong to the order's channel; currency is stored upper case.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.validators import MinValueValidator

from saleschannel.core.admin_utils import LargeTableAdminMixin, RecentValuesListFilter

from .models import Order

AMOUNT_FIELDS = ("amount", "discount_amount", "refund_amount")
CURRENCY_RE = re.compile(r"[A-Za-z]{3}")


class OrderAdminForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = [
            "channel",
            "customer",
            "number",
            "status",
            "currency",
            *AMOUNT_FIELDS,
            "created_date",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in AMOUNT_FIELDS:
            if name in self.fields:
                self.fields[name].validators.append(MinValueValidator(Decimal("0")))

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"]
        if not CURRENCY_RE.fullmatch(value):
            raise forms.ValidationError(
                "Enter a valid ISO 4217 currency code (three letters).", code="invalid"
            )
        return value.upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        channel, customer = cleaned.get("channel"), cleaned.get("customer")
        if channel is not None and customer is not None and customer.channel_id != channel.pk:
            self.add_error(
                "customer",
                forms.ValidationError(
                    f"This customer belongs to channel {customer.channel_id}, "
                    f"not to the order's channel {channel.pk}.",
                    code="invalid",
                ),
            )
        return cleaned


class StatusFilter(RecentValuesListFilter):
    title = "status"
    field_name = "status"


class CurrencyFilter(RecentValuesListFilter):
    title = "currency"
    field_name = "currency"

    def normalize(self, value: str) -> str:
        return value.upper()


@admin.register(Order)
class OrderAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    form = OrderAdminForm
    list_display = [
        "number",
        "channel",
        "customer",
        "status",
        "currency",
        "amount",
        "discount_amount",
        "refund_amount",
        "created_date",
    ]
    list_select_related = ["channel", "customer"]
    list_filter = ["channel", StatusFilter, CurrencyFilter]
    search_fields = ["^number"]
    search_help_text = "Order number (starts with)."
    ordering = ["-pk"]
    sortable_by = []
    actions = None
    raw_id_fields = ["customer", "channel"]
    readonly_fields = ["modified_date"]
    fields = [
        "channel",
        "customer",
        "number",
        ("status", "currency"),
        ("amount", "discount_amount", "refund_amount"),
        "created_date",
        "modified_date",
    ]
