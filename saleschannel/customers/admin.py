"""Admin for customers, built to stay fast on a million rows.

- The list never runs a full COUNT: `LargeTableAdminMixin` (saleschannel.core.admin_utils)
  counts at most a page-dependent horizon of rows and shows "N+" past it; no unfiltered total,
  no facet counts. It is ordered by -pk (the primary key index) and sortable by pk only, since
  sorting a million rows by any other column without a channel filter is a full sort.
- Searches: email and names by case-insensitive prefix, phone_number and channel_code exact
  (case-sensitive, as the API's filters), erp_code by case-insensitive substring (as the API's
  filter). No index serves these across channels, so a search reads the table once (see
  saleschannel.core.admin_utils: the matches' ids are read once, not once per count and page);
  on a million customers that is about a second on PostgreSQL.
- No bulk actions: "select all" over a million rows and Django's delete confirmation page that
  lists every related object would not finish. Customers are deleted one at a time.
- The change page shows the latest orders inline (read-only) and the `orders_info` totals from
  `orders_info_for` (one grouped query). The channel is fixed once the customer exists (its
  orders belong to that channel).
- Uniqueness per channel (email case-insensitively, channel_code) is checked with the API's own
  conflict check and shown as field errors with the API's messages; the database constraints
  stay the last word.
- Writes go through saleschannel.customers.services, like the API's: each bumps the customer's
  `version` (so an API client's `If-Match` on the old ETag gets 412) and records the change,
  with the admin user as the actor. A save writes only the fields changed on the page, and is
  refused with a form error if the customer was changed elsewhere after the page was opened.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from saleschannel.core.admin_utils import JSONObjectFormField, LargeTableAdminMixin
from saleschannel.orders.models import Order

from . import services
from .models import Customer, CustomerHistory
from .selectors import EMPTY_ORDERS_INFO, orders_info_for

JSON_FIELDS = (
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
)
UNIQUE_FIELDS = ("email", "channel_code")
INLINE_ORDERS = 20
WRITABLE_FIELDS = {
    field.name
    for field in Customer._meta.concrete_fields
    if field.editable and not field.primary_key
}


class CustomerAdminForm(forms.ModelForm):
    # The version the page was opened at (change pages only): a lost-update guard.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Customer
        fields = sorted(WRITABLE_FIELDS)
        field_classes = {name: JSONObjectFormField for name in JSON_FIELDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["loaded_version"].initial = self.instance.version

    def clean_loaded_version(self) -> int | None:
        loaded = self.cleaned_data.get("loaded_version")
        if self.instance.pk is None or loaded is None:
            return loaded
        current = (
            Customer.objects.filter(pk=self.instance.pk).values_list("version", flat=True).first()
        )
        if current is not None and current != loaded:
            raise forms.ValidationError(
                "This customer was changed by someone else after this page was opened. "
                "Reload the page to see the current values, then make your change again.",
                code="stale",
            )
        return loaded

    def _channel(self):
        if "channel" in self.fields:
            return self.cleaned_data.get("channel")
        return self.instance.channel if self.instance.channel_id else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        channel = self._channel()
        values = {name: cleaned.get(name) for name in UNIQUE_FIELDS}
        if channel is None or not any(values.values()):
            return cleaned
        probe = Customer(
            pk=self.instance.pk,
            channel=channel,
            email=values["email"] or "",
            channel_code=values["channel_code"] or "",
        )
        for name in services.conflicting_fields(probe):
            if values[name]:
                message = services.UNIQUE_MESSAGES[name]
                self.add_error(name, forms.ValidationError(message, code="unique"))
        return cleaned

    def _get_validation_exclusions(self):
        # Both per-channel constraints involve the channel; clean() has checked them and put
        # the errors on the right fields, so Django's generic "Constraint … is violated" (and a
        # second query per constraint) is skipped.
        exclude = super()._get_validation_exclusions()
        exclude.add("channel")
        return exclude


class LatestOrdersFormSet(BaseInlineFormSet):
    """The customer's latest orders only: a customer may have thousands."""

    def get_queryset(self):
        if not hasattr(self, "_latest_orders"):
            self._latest_orders = list(super().get_queryset()[:INLINE_ORDERS])
        return self._latest_orders


class OrderInline(admin.TabularInline):
    model = Order
    formset = LatestOrdersFormSet
    fields = ["number", "status", "currency", "amount", "discount_amount", "refund_amount"]
    readonly_fields = fields
    ordering = ["-pk"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Orders (latest {INLINE_ORDERS})"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = [
        "id",
        "email",
        "first_name",
        "last_name",
        "channel",
        "channel_code",
        "erp_code",
        "is_active",
        "user_type",
        "created_date",
    ]
    list_display_links = ["id", "email"]
    list_select_related = ["channel"]
    list_filter = ["channel", "is_active", "user_type", "gender"]
    search_fields = [
        "^email",
        "^first_name",
        "^last_name",
        "phone_number__exact",
        "channel_code__exact",
        "erp_code",
    ]
    search_help_text = (
        "Email or name (starts with), phone number or channel code (exact), ERP code (contains)."
    )
    ordering = ["-pk"]
    sortable_by = ["id"]
    actions = None
    raw_id_fields = ["channel"]
    inlines = [OrderInline]
    orders_fields = [
        "total_order_count",
        "total_order_amount",
        "total_discount_amount",
        "total_refund_amount",
        "all_orders",
    ]
    readonly_fields = ["created_date", "modified_date", "version", *orders_fields]

    def save_model(self, request, obj: Customer, form: CustomerAdminForm, change: bool) -> None:
        values = {
            name: getattr(obj, name)
            for name in form._meta.fields
            if name in WRITABLE_FIELDS and name != "channel"
        }
        if not change:
            saved = services.customer_create(channel=obj.channel, data=values, actor=request.user)
        else:
            changed = {name: values[name] for name in form.changed_data if name in values}
            if not changed:
                return
            saved = services.customer_update(
                channel=obj.channel,
                customer_id=obj.pk,
                data=changed,
                partial=True,
                actor=request.user,
            )
        for field in Customer._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state = saved._state

    def delete_model(self, request, obj: Customer) -> None:
        services.customer_delete(channel=obj.channel, customer_id=obj.pk, actor=request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return ["channel", *fields] if obj is not None else fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                None,
                {
                    "fields": [
                        "channel",
                        ("email", "channel_code"),
                        ("first_name", "last_name"),
                        "phone_number",
                        "erp_code",
                        "is_active",
                        ("user_type", "gender"),
                        ("date_of_birth", "date_joined"),
                    ]
                },
            ),
            ("Communication", {"fields": [("email_allowed", "sms_allowed", "call_allowed")]}),
            ("Attributes", {"classes": ["collapse"], "fields": list(JSON_FIELDS)}),
        ]
        if obj is not None:
            fieldsets[0][1]["fields"].append("loaded_version")
            fieldsets.append(("Orders", {"fields": self.orders_fields}))
            fieldsets.append(("Dates", {"fields": [("created_date", "modified_date", "version")]}))
        return fieldsets

    @staticmethod
    def orders_info(obj: Customer | None) -> dict[str, Any]:
        """`orders_info` of the customer (its orders in its channel), read once per request."""
        if obj is None or obj.pk is None:
            return EMPTY_ORDERS_INFO
        if not hasattr(obj, "_admin_orders_info"):
            info = orders_info_for(channel=obj.channel, customer_ids=[obj.pk])
            obj._admin_orders_info = info.get(obj.pk, EMPTY_ORDERS_INFO)
        return obj._admin_orders_info

    def _sum(self, obj: Customer, key: str):
        value = self.orders_info(obj)[key]
        return self.get_empty_value_display() if value is None else value

    @admin.display(description="Total order count")
    def total_order_count(self, obj: Customer) -> int:
        return self.orders_info(obj)["total_order_count"]

    @admin.display(description="Total order amount")
    def total_order_amount(self, obj: Customer):
        return self._sum(obj, "total_order_amount")

    @admin.display(description="Total discount amount")
    def total_discount_amount(self, obj: Customer):
        return self._sum(obj, "total_discount_amount")

    @admin.display(description="Total refund amount")
    def total_refund_amount(self, obj: Customer):
        return self._sum(obj, "total_refund_amount")

    @admin.display(description="All orders")
    def all_orders(self, obj: Customer) -> str:
        count = self.orders_info(obj)["total_order_count"]
        if not count:
            return "No orders."
        url = reverse("admin:orders_order_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">View all {} orders</a>', url, count)


@admin.register(CustomerHistory)
class CustomerHistoryAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    """Read-only: the history is written by the services, in the transaction of each change."""

    list_display = ["id", "customer_id", "channel", "action", "actor_username", "created_date"]
    list_filter = ["action", "channel"]
    list_select_related = ["channel"]
    search_fields = ["=customer_id", "=actor_username"]
    ordering = ["-pk"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
