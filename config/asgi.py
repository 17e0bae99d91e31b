"""ASGI entry point (uvicorn config.asgi:application).

Only used to measure the ASGI servers against the WSGI ones (bench/servers/); production runs
WSGI (scripts/serve). Every view is synchronous, so under ASGI Django runs each request in a
worker thread through asgiref: it works, it is just not faster here (see docs/OPERATIONS.md).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_asgi_application()
