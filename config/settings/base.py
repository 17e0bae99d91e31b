"""Settings shared by every environment, read from environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "data"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "saleschannel.core",
    "saleschannel.accounts",
    "saleschannel.channels",
    "saleschannel.customers",
    "saleschannel.orders",
]

MIDDLEWARE = [
    "saleschannel.core.middleware.RequestLogMiddleware",
    "saleschannel.core.routing.ReplicaPinningMiddleware",
    "saleschannel.core.throttling.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its 413 still passes back through the security-header middlewares above.
    "saleschannel.core.middleware.BodySizeLimitMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# Paths are served with and without their trailing slash; a redirect would drop a POST body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
DEFAULT_SQLITE_PATH = DATA_DIR / "db.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60))
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {}).update(
        {
            # Writers queue for the lock instead of failing with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    _db["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
elif _db["ENGINE"] in {"django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"}:
    _db["ENGINE"] = "django.db.backends.postgresql"
    _db["CONN_HEALTH_CHECKS"] = True
    _options = _db.setdefault("OPTIONS", {})
    _options["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)
    if env_bool("DB_PGBOUNCER", False):
        # PgBouncer in transaction mode: no server-side cursors or prepared statements, and no
        # startup options (set statement_timeout on the database role instead).
        _db["DISABLE_SERVER_SIDE_CURSORS"] = True
        _options["prepare_threshold"] = None
    else:
        # A statement that runs away answers 503 instead of holding a worker forever. No parallel
        # query: each request already has its core, and starting workers costs a LIMIT 11 page
        # 3-4 ms (measured in docs/PERFORMANCE.md); a large machine may raise it.
        _options["options"] = (
            f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 15000)}"
            f" -c max_parallel_workers_per_gather={env_int('DB_PARALLEL_WORKERS_PER_GATHER', 0)}"
        )
    if env_int("DB_POOL_MAX_SIZE", 0):
        # psycopg's pool in each process (Django 5.1+); persistent connections are the pool's job.
        _options["pool"] = {"min_size": 1, "max_size": env_int("DB_POOL_MAX_SIZE", 0)}
        _db["CONN_MAX_AGE"] = 0

# Streaming replicas for reads (saleschannel.core.routing): comma-separated database URLs.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 5)
# A replica further behind than the pin lasts could show a writer its old data: skip it.
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", REPLICA_PIN_SECONDS)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 5)
for _index, _url in enumerate(DATABASE_REPLICA_URLS):
    _replica = dj_database_url.parse(_url, conn_max_age=_db.get("CONN_MAX_AGE", 60))
    _replica["ENGINE"] = _db["ENGINE"]
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["OPTIONS"] = {**_db.get("OPTIONS", {}), **_replica.get("OPTIONS", {})}
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_index}"] = _replica
if DATABASE_REPLICA_URLS:
    if not os.environ.get("REDIS_URL"):
        # Pins must be seen by every worker and server, or a client may not read its writes.
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs REDIS_URL (read-your-writes pins).")
    DATABASE_ROUTERS = ["saleschannel.core.routing.PrimaryReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "static"))
# Admin assets are served by WhiteNoise straight from the installed apps: no collectstatic step.
WHITENOISE_USE_FINDERS = True

# --- Cache (login throttling counters; Redis when REDIS_URL is set) ------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "saleschannel.accounts.authentication.HashedTokenAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["saleschannel.core.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["saleschannel.core.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["saleschannel.core.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "saleschannel.core.errors.exception_handler",
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # `?format=` is not special: unknown query parameters are ignored, like every other.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sales Channel Customers API (Omnitron-compatible)",
    "DESCRIPTION": (
        "The eight operations of Omnitron's SalesChannelCustomers API, plus login, the token's "
        "user, channels and customer history. Authorize with `Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "PREPROCESSING_HOOKS": ["saleschannel.core.openapi.only_canonical_paths"],
    "PATH_CONVERTER_OVERRIDES": {"int64": {"type": "integer", "format": "int64"}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "saleschannel.core.openapi.add_error_components",
    ],
    "COMPONENT_SPLIT_REQUEST": False,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "tryItOutEnabled": True},
}

# CORS is off unless origins are configured (comma-separated, e.g. https://admin.example.com).
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
if CORS_ALLOWED_ORIGINS:
    INSTALLED_APPS.append("corsheaders")
    MIDDLEWARE.insert(1, "corsheaders.middleware.CorsMiddleware")
    CORS_ALLOW_HEADERS = [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
        "x-request-id",
    ]
    CORS_EXPOSE_HEADERS = [
        "etag",
        "link",
        "x-total-count",
        "x-total-count-estimate",
        "x-request-id",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    ]

# Largest request body accepted, in bytes (larger: 413).
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# Lists: `limit` default and maximum, and the count cap past which X-Total-Count is estimated.
LIST_DEFAULT_LIMIT = 10
LIST_MAX_LIMIT = 1000
LIST_EXACT_COUNT_CAP = env_int("LIST_EXACT_COUNT_CAP", 10_000)
# Body of list responses: the spec's bare array (default) or DRF's {"count","next",...} envelope.
LIST_ENVELOPE = env_bool("LIST_ENVELOPE", False)
# How long a POST's Idempotency-Key response is kept and replayed.
IDEMPOTENCY_TTL_SECONDS = env_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
# `pk__in` accepts at most this many ids.
FILTER_MAX_IN_VALUES = 1000

# Requests per token: "<n>/<second|minute|hour|day>", or empty for no limit (the local default;
# config.settings.production turns it on).
RATE_LIMIT_PER_TOKEN = os.environ.get("RATE_LIMIT_PER_TOKEN", "")

# Login: failed attempts allowed per username and per client IP within LOGIN_WINDOW_SECONDS.
LOGIN_MAX_FAILURES_PER_USERNAME = env_int("LOGIN_MAX_FAILURES_PER_USERNAME", 10)
LOGIN_MAX_FAILURES_PER_IP = env_int("LOGIN_MAX_FAILURES_PER_IP", 50)
LOGIN_WINDOW_SECONDS = env_int("LOGIN_WINDOW_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "bare": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "requests": {"class": "logging.StreamHandler", "formatter": "bare"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # One JSON line per request (saleschannel.core.middleware.RequestLogMiddleware).
        "saleschannel.requests": {
            "handlers": ["requests"],
            "level": os.environ.get("REQUEST_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}


def require_secret_key() -> str:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    return SECRET_KEY
