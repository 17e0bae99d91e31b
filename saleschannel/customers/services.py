"""Customer writes. Every write is one transaction; uniqueness is enforced by the database."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.http import Http404

from saleschannel.channels.models import Channel

from .models import Customer

UNIQUE_MESSAGES = {
    "email": "A customer with this email already exists in this channel.",
    "channel_code": "A customer with this channel_code already exists in this channel.",
}


def _writable_defaults() -> dict[str, Any]:
    """What PUT writes for an optional field it omits: the model's default."""
    defaults: dict[str, Any] = {}
    for field in Customer._meta.concrete_fields:
        if field.primary_key or field.name in {"channel", "created_date", "modified_date"}:
            continue
        if field.has_default():
            defaults[field.name] = field.get_default()
        elif field.null:
            defaults[field.name] = None
    return defaults


def _conflicting_fields(customer: Customer) -> list[str]:
    others = Customer.objects.filter(channel_id=customer.channel_id)
    if customer.pk is not None:
        others = others.exclude(pk=customer.pk)
    conflicts = []
    email_taken = (
        others.annotate(email_lower=Lower("email"))
        .filter(email_lower=Lower(Value(customer.email, output_field=models.CharField())))
        .exists()
    )
    if email_taken:
        conflicts.append("email")
    if others.filter(channel_code=customer.channel_code).exists():
        conflicts.append("channel_code")
    return conflicts


def _raise_if_conflicting(customer: Customer) -> None:
    conflicts = _conflicting_fields(customer)
    if conflicts:
        raise ValidationError(
            {name: ValidationError(UNIQUE_MESSAGES[name], code="unique") for name in conflicts}
        )


def _save(customer: Customer, **save_kwargs: Any) -> None:
    _raise_if_conflicting(customer)
    try:
        with transaction.atomic():
            customer.save(**save_kwargs)
    except IntegrityError:
        # A concurrent write took the email or channel_code between the check and the insert.
        _raise_if_conflicting(customer)
        raise


def customer_create(*, channel: Channel, data: dict[str, Any]) -> Customer:
    customer = Customer(channel=channel, **data)
    _save(customer, force_insert=True)
    return customer


@transaction.atomic
def customer_update(
    *, channel: Channel, customer_id: int, data: dict[str, Any], partial: bool
) -> Customer:
    """PATCH writes only the fields it names; PUT replaces every writable field."""
    customer = Customer.objects.select_for_update().filter(channel=channel, pk=customer_id).first()
    if customer is None:
        raise Http404
    changes = dict(data) if partial else {**_writable_defaults(), **data}
    for name, value in changes.items():
        setattr(customer, name, value)
    _save(customer, update_fields=[*changes, "modified_date"])
    return customer


@transaction.atomic
def customer_delete(*, channel: Channel, customer_id: int) -> None:
    customer = Customer.objects.select_for_update().filter(channel=channel, pk=customer_id).first()
    if customer is None:
        raise Http404
    try:
        with transaction.atomic():
            customer.delete()
    except (models.ProtectedError, IntegrityError):
        raise ValidationError(
            "This customer has orders and cannot be deleted.", code="protected"
        ) from None
