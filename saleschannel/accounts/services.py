"""API users: login with throttled failures, user creation with grants and permissions."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.exceptions import Throttled

from saleschannel.channels.models import Channel

from .models import ApiToken, ChannelGrant

WRITE_PERMISSIONS = [
    ("customers", "add_customer"),
    ("customers", "change_customer"),
    ("customers", "delete_customer"),
]


def _window() -> tuple[int, int]:
    size = settings.LOGIN_WINDOW_SECONDS
    now = int(time.time())
    return now // size, size - now % size


def _digest(text: str) -> str:
    # Cache keys must be short and plain; usernames and addresses can be anything.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _failure_keys(*, username: str, ip: str) -> list[tuple[str, int]]:
    window, _ = _window()
    return [
        (
            f"login-fail:user:{_digest(username.lower())}:{window}",
            settings.LOGIN_MAX_FAILURES_PER_USERNAME,
        ),
        (f"login-fail:ip:{_digest(ip)}:{window}", settings.LOGIN_MAX_FAILURES_PER_IP),
    ]


def _check_not_locked(*, username: str, ip: str) -> None:
    keys = _failure_keys(username=username, ip=ip)
    counts = cache.get_many([key for key, _ in keys])
    for key, limit in keys:
        if counts.get(key, 0) >= limit:
            raise Throttled(wait=_window()[1], detail="Too many failed login attempts.")


def _record_failure(*, username: str, ip: str) -> None:
    for key, _ in _failure_keys(username=username, ip=ip):
        cache.add(key, 0, timeout=settings.LOGIN_WINDOW_SECONDS + 1)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_WINDOW_SECONDS + 1)


def login(*, username: str, password: str, ip: str) -> str:
    """A new token key for valid credentials; failed attempts are limited per user and per IP."""
    _check_not_locked(username=username, ip=ip)
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        _record_failure(username=username, ip=ip)
        raise ValidationError("Unable to log in with provided credentials.", code="authorization")
    _, key = ApiToken.objects.issue(user=user, name="login")
    return key


@transaction.atomic
def api_user_create(
    *,
    username: str,
    password: str | None = None,
    superuser: bool = False,
    channel_ids: Iterable[int] = (),
    read_only: bool = False,
) -> tuple[object, str]:
    """Create (or update) an API user with its grants and permissions; return it and a new key."""
    channel_ids = list(channel_ids)
    found = set(Channel.objects.filter(pk__in=channel_ids).values_list("pk", flat=True))
    missing = sorted(set(channel_ids) - found)
    if missing:
        raise ValidationError(f"Unknown channel ids: {missing}", code="not_found")
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    user.is_superuser = superuser
    user.is_staff = superuser
    if password:
        user.set_password(password)
    elif created or not user.has_usable_password():
        user.set_unusable_password()
    user.save()
    for channel_id in channel_ids:
        ChannelGrant.objects.get_or_create(user=user, channel_id=channel_id)
    permissions = Permission.objects.filter(
        content_type__app_label="customers",
        codename__in=[codename for _, codename in WRITE_PERMISSIONS],
    )
    if read_only:
        user.user_permissions.remove(*permissions)
    else:
        user.user_permissions.add(*permissions)
    _, key = ApiToken.objects.issue(user=user, name="cli")
    return user, key
