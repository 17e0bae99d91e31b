from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "saleschannel.orders"
    label = "orders"
