"""Admin for sales channels. Channels are few, so their list is counted exactly."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from saleschannel.core.admin_utils import JSONStringMapFormField, NullableJSONObjectFormField

from .models import Channel


class ChannelAdminForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = [
            "name",
            "channel_type",
            "catalog",
            "is_active",
            "conf",
            "category_tree",
            "schema",
        ]
        field_classes = {"conf": JSONStringMapFormField, "schema": NullableJSONObjectFormField}


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["id", "name", "channel_type", "catalog", "is_active", "created_date"]
    list_display_links = ["id", "name"]
    search_fields = ["name"]
    list_filter = ["channel_type", "is_active"]
    ordering = ["-pk"]
    readonly_fields = ["created_date", "modified_date"]
    fieldsets = [
        (None, {"fields": ["name", "channel_type", "catalog", "is_active"]}),
        ("Configuration", {"fields": ["conf", "category_tree", "schema"]}),
        ("Dates", {"fields": ["created_date", "modified_date"]}),
    ]
