"""Test settings: the database comes from DATABASE_URL (SQLite file by default)."""

from .base import *  # noqa: F403
from .base import DATA_DIR

SECRET_KEY = "test-only-not-secret"
(DATA_DIR / "static").mkdir(parents=True, exist_ok=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Request log lines are tested explicitly; elsewhere they would only be noise.
LOGGING["loggers"]["saleschannel.requests"]["level"] = "WARNING"  # noqa: F405
