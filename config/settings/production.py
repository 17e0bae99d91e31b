"""Production settings: DEBUG is always off and SECRET_KEY must come from the environment."""

from .base import *  # noqa: F403
from .base import require_secret_key

DEBUG = False
SECRET_KEY = require_secret_key()
