"""Production settings: DEBUG is always off and SECRET_KEY must come from the environment."""

import os

from .base import *  # noqa: F403
from .base import require_secret_key

DEBUG = False
SECRET_KEY = require_secret_key()

# Per-token limits are on in production unless RATE_LIMIT_PER_TOKEN says otherwise ("off").
RATE_LIMIT_PER_TOKEN = os.environ.get("RATE_LIMIT_PER_TOKEN", "1200/minute")
