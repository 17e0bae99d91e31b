"""Customer writes. Every write is one transaction that also records the customer's history;
uniqueness is enforced by the database, lost updates are prevented by `If-Match` versions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.http import Http404

from saleschannel.channels.models import Channel
from saleschannel.core.db import writable_defaults as db_writable_defaults
from saleschannel.core.exceptions import PreconditionFailed

from .models import Customer, CustomerHistory, HistoryAction

UNIQUE_MESSAGES = {
    "email": "A customer with this email already exists in this channel.",
    "channel_code": "A customer with this channel_code already exists in this channel.",
}
# Not part of the change record: set by the server on every write.
UNTRACKED = {"pk", "created_date", "modified_date"}


def writable_defaults() -> dict[str, Any]:
    """What PUT writes for an optional field it omits: the model's default."""
    return db_writable_defaults(Customer, exclude={"channel", "created_date", "modified_date"})


def _snapshot(customer: Customer) -> dict[str, Any]:
    from .serializers import CustomerSerializer  # the API's representation of each value

    data = CustomerSerializer(customer).data
    return {name: value for name, value in data.items() if name not in UNTRACKED}


def _record(
    *, customer: Customer, action: str, before: dict[str, Any], after: dict[str, Any], actor
) -> None:
    changes = {
        name: [before.get(name), after.get(name)]
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }
    if action == HistoryAction.UPDATE and not changes:
        return
    user = actor if actor is not None and actor.is_authenticated else None
    CustomerHistory.objects.create(
        channel_id=customer.channel_id,
        customer_id=customer.pk,
        action=action,
        actor=user,
        actor_username=user.get_username() if user else "",
        changes=changes,
    )


def conflicting_fields(customer: Customer) -> list[str]:
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
    conflicts = conflicting_fields(customer)
    if conflicts:
        raise ValidationError(
            {name: ValidationError(UNIQUE_MESSAGES[name], code="unique") for name in conflicts}
        )


def save_checked(customer: Customer, **save_kwargs: Any) -> None:
    """Save, refusing a duplicate email or channel_code with the API's field errors."""
    _raise_if_conflicting(customer)
    try:
        with transaction.atomic():
            customer.save(**save_kwargs)
    except IntegrityError:
        # A concurrent write took the email or channel_code between the check and the insert.
        _raise_if_conflicting(customer)
        raise


def _locked(*, channel: Channel, customer_id: int, if_match: str | None) -> Customer:
    customer = Customer.objects.select_for_update().filter(channel=channel, pk=customer_id).first()
    if customer is None:
        raise Http404
    if if_match is not None and not etag_in(if_match, etag_of(customer)):
        raise PreconditionFailed()
    return customer


def etag_for(*, pk: int, version: int) -> str:
    return f'"{pk}.{version}"'


def etag_of(customer: Customer) -> str:
    return etag_for(pk=customer.pk, version=customer.version)


def etag_in(header: str, etag: str, *, weak: bool = False) -> bool:
    """Compare with an If-Match (strong) or If-None-Match (weak) header: `*` or a list of tags."""
    tags = [tag.strip() for tag in header.split(",")]
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return "*" in tags or etag in tags


@transaction.atomic
def customer_create(*, channel: Channel, data: dict[str, Any], actor=None) -> Customer:
    customer = Customer(channel=channel, **data)
    save_checked(customer, force_insert=True)
    _record(
        customer=customer,
        action=HistoryAction.CREATE,
        before={},
        after=_snapshot(customer),
        actor=actor,
    )
    return customer


@transaction.atomic
def customer_update(
    *,
    channel: Channel,
    customer_id: int,
    data: dict[str, Any],
    partial: bool,
    actor=None,
    if_match: str | None = None,
) -> Customer:
    """PATCH writes only the fields it names; PUT replaces every writable field."""
    customer = _locked(channel=channel, customer_id=customer_id, if_match=if_match)
    before = _snapshot(customer)
    changes = dict(data) if partial else {**writable_defaults(), **data}
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.version += 1
    save_checked(customer, update_fields=[*changes, "version", "modified_date"])
    _record(
        customer=customer,
        action=HistoryAction.UPDATE,
        before=before,
        after=_snapshot(customer),
        actor=actor,
    )
    return customer


@transaction.atomic
def customer_delete(
    *, channel: Channel, customer_id: int, actor=None, if_match: str | None = None
) -> None:
    customer = _locked(channel=channel, customer_id=customer_id, if_match=if_match)
    before = _snapshot(customer)
    try:
        with transaction.atomic():
            customer.delete()
    except (models.ProtectedError, IntegrityError):
        raise ValidationError(
            "This customer has orders and cannot be deleted.", code="protected"
        ) from None
    customer.pk = customer_id
    _record(customer=customer, action=HistoryAction.DELETE, before=before, after={}, actor=actor)
