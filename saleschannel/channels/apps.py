from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "saleschannel.channels"
    label = "channels"
    verbose_name = "Sales channels"
