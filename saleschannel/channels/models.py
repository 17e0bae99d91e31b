"""The Channel model (the spec's `Channel` schema)."""

from __future__ import annotations

from django.db import models


class ChannelType(models.TextChoices):
    HEPSIBURADA = "hepsiburada"
    HEPSIBURADADS = "hepsiburadads"
    GITTIGIDIYOR = "gittigidiyor"
    N11 = "n11"
    WEB = "web"
    FEED = "feed"
    TRENDYOL = "trendyol"
    MORHIPO = "morhipo"
    MORHIPO_V2 = "morhipoV2"
    LIDYANA = "lidyana"
    AMAZON = "amazon"
    ALLEGRO = "allegro"
    DISTRIBUTED = "distributed"
    ALIEXPRESS = "aliexpress"
    EMAG = "emag"
    CICEKSEPETI = "ciceksepeti"
    GORDUMALDIM = "gordumaldim"
    PAZARAMA = "pazarama"
    FLO = "flo"
    TURKCELLDS = "turkcellds"
    SALES_CHANNEL = "sales_channel"


class Channel(models.Model):
    name = models.CharField(max_length=255)
    catalog = models.BigIntegerField()
    channel_type = models.CharField(max_length=32, choices=ChannelType.choices)
    conf = models.JSONField(default=dict, blank=True)
    category_tree = models.TextField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    schema = models.JSONField(null=True, blank=True)
    created_date = models.DateTimeField(auto_now_add=True)
    modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_type}, #{self.pk})"
