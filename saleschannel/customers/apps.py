from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "saleschannel.customers"
    label = "customers"
    verbose_name = "Sales channel customers"
