"""The Customer model: one record per customer per sales channel (the spec's `Customer`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from saleschannel.core.model_fields import JSONField


class Gender(models.TextChoices):
    MALE = "male"
    FEMALE = "female"


class UserType(models.TextChoices):
    GUEST = "guest"
    REGISTERED = "registered"


class Customer(models.Model):
    # No index of its own: cust_ch_pk_idx (channel, id) leads with it (one index less to write).
    channel = models.ForeignKey(
        "channels.Channel", on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    phone_number = models.CharField(max_length=128, null=True, blank=True)
    is_active = models.BooleanField(default=False)
    # The customer's own id inside the sales channel (e.g. a marketplace customer number).
    channel_code = models.CharField(max_length=64)
    erp_code = models.CharField(max_length=64, null=True, blank=True)
    attributes = JSONField(default=dict, blank=True)
    attribute_kwargs = JSONField(default=dict, blank=True)
    localized_attributes = JSONField(default=dict, blank=True)
    localized_attribute_kwargs = JSONField(default=dict, blank=True)
    extra_field = JSONField(default=dict, blank=True)
    email_allowed = models.BooleanField(default=False)
    sms_allowed = models.BooleanField(default=False)
    call_allowed = models.BooleanField(default=False)
    date_joined = models.DateTimeField(null=True, blank=True)
    gender = models.CharField(max_length=16, choices=Gender.choices, null=True, blank=True)
    user_type = models.CharField(max_length=16, choices=UserType.choices, null=True, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    created_date = models.DateTimeField(auto_now_add=True)
    modified_date = models.DateTimeField(auto_now=True)
    # Bumped by every write; the ETag of the customer's representation (If-Match -> 412).
    version = models.PositiveBigIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                "channel", Lower("email"), name="customer_channel_email_ci_uniq"
            ),
            models.UniqueConstraint(
                fields=["channel", "channel_code"], name="customer_channel_code_uniq"
            ),
        ]
        indexes = [
            # Every filter and sort leads with the channel and ends with the pk, so a page in
            # pk order (the default, and every sort's tie-break) is read straight off an index.
            # PostgreSQL-only indexes (prefix, trigram, jsonb) are in migration 0002.
            models.Index(fields=["channel", "id"], name="cust_ch_pk_idx"),
            *[
                models.Index(fields=["channel", column, "id"], name=f"cust_ch_{short}_idx")
                for column, short in [
                    ("email", "email"),
                    ("phone_number", "phone"),
                    ("first_name", "first"),
                    ("last_name", "last"),
                    ("created_date", "created"),
                    ("modified_date", "modified"),
                    ("date_joined", "joined"),
                    ("date_of_birth", "birth"),
                    ("is_active", "active"),
                    ("email_allowed", "email_ok"),
                    ("sms_allowed", "sms_ok"),
                    ("call_allowed", "call_ok"),
                    ("gender", "gender"),
                    ("user_type", "utype"),
                ]
            ],
        ]

    def __str__(self) -> str:
        return f"{self.email} (channel {self.channel_id}, #{self.pk})"


class HistoryAction(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class CustomerHistory(models.Model):
    """Who changed which fields of a customer from what to what. Kept after the customer is gone."""

    channel = models.ForeignKey(
        "channels.Channel", on_delete=models.CASCADE, related_name="customer_history"
    )
    # Not a foreign key: the history outlives the customer.
    customer_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=HistoryAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True, default="")
    # {"field": [old, new], ...} in the API's JSON representation.
    changes = models.JSONField(default=dict)
    created_date = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "customer history"
        indexes = [
            models.Index(fields=["channel", "customer_id", "-id"], name="cust_hist_lookup_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} customer {self.customer_id} by {self.actor_username or '?'}"
