"""API tokens (stored as SHA-256 digests) and the channels each API user may see."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

TOKEN_BYTES = 20  # 40 hex characters, the length of DRF's own tokens


def hash_token(key: str) -> str:
    # Keys are 160 random bits, so a fast digest is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, *, user, name: str = "") -> tuple[ApiToken, str]:
        """Create a token and return it with its key; the key is never stored or shown again."""
        key = secrets.token_hex(TOKEN_BYTES)
        token = self.create(user=user, digest=hash_token(key), prefix=key[:8], name=name)
        return token, key


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    # The first characters of the key, so an operator can tell tokens apart.
    prefix = models.CharField(max_length=8)
    name = models.CharField(max_length=100, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class ChannelGrant(models.Model):
    """Lets a (non-superuser) API user see one channel."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_grants"
    )
    channel = models.ForeignKey("channels.Channel", on_delete=models.CASCADE, related_name="grants")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="channel_grant_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → channel {self.channel_id}"
