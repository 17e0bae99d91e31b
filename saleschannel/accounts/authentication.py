"""`Authorization: Token <key>` against hashed keys."""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .models import ApiToken, hash_token


class HashedTokenAuthentication(TokenAuthentication):
    model = ApiToken

    def authenticate_credentials(self, key: str):
        digest = hash_token(key)
        tokens = ApiToken.objects.select_related("user").filter(digest=digest)
        token = tokens.first()
        if token is None and len(settings.DATABASES) > 1:
            # A token issued a moment ago may not have reached a read replica yet.
            token = tokens.using("default").first()
        # The lookup is by digest; compare again in constant time for good measure.
        if token is None or not hmac.compare_digest(token.digest, digest):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
