from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "saleschannel.accounts"
    label = "accounts"
    verbose_name = "API users"
