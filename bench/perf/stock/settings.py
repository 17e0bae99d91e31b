"""Settings of the stock build: the production settings with DRF's and Django's defaults back.

Run with DJANGO_SETTINGS_MODULE=bench.perf.stock.settings (and SECRET_KEY set).
"""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.perf.stock.urls"

# `django-admin startproject`'s middleware.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# DRF defaults (JSON renderer/parsers, default exception handler, no throttling), except the
# authentication class: the app's own, so both builds pay the same cost to authenticate.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "saleschannel.accounts.authentication.HashedTokenAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
