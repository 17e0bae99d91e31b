"""`Authorization: Token <key>` against hashed keys."""

from __future__ import annotations

import hmac

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .models import ApiToken, hash_token


class HashedTokenAuthentication(TokenAuthentication):
    model = ApiToken

    def authenticate_credentials(self, key: str):
        digest = hash_token(key)
        token = ApiToken.objects.select_related("user").filter(digest=digest).first()
        # The lookup is by digest; compare again in constant time for good measure.
        if token is None or not hmac.compare_digest(token.digest, digest):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
