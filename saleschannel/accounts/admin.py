"""Admin for API tokens and channel grants. Django's own User admin is kept as it is.

Tokens: only the prefix of a key is ever shown (the key itself is not stored). Deleting a
token revokes it. The add form issues a new token and shows its key once, in a message on the
next page (the message travels in the messages cookie or session until it is displayed);
there is no way to see it again. Only superusers may issue tokens (a token acts as its user, so
issuing one for another user is impersonation); staff with the delete permission may revoke.
"""

from __future__ import annotations

from django.contrib import admin, messages

from .models import ApiToken, ChannelGrant


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created"]
    list_select_related = ["user"]
    search_fields = ["prefix", "user__username", "name"]
    list_filter = ["created"]
    ordering = ["-pk"]
    raw_id_fields = ["user"]

    def get_fields(self, request, obj=None):
        return ["user", "name"] if obj is None else ["prefix", "user", "name", "created"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["prefix", "user", "name", "created"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        # A token acts as its user: issuing one for someone else is impersonation.
        return request.user.is_superuser

    def save_model(self, request, obj, form, change) -> None:
        token, key = ApiToken.objects.issue(user=obj.user, name=obj.name)
        for name in ("pk", "digest", "prefix", "created"):
            setattr(obj, name, getattr(token, name))
        obj._state = token._state
        messages.warning(
            request,
            f"The new token's key is {key} — copy it now: it is not stored and will not be "
            "shown again.",
        )


@admin.register(ChannelGrant)
class ChannelGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "created"]
    list_select_related = ["user", "channel"]
    list_filter = ["channel"]
    search_fields = ["user__username"]
    ordering = ["-pk"]
    raw_id_fields = ["user", "channel"]
