"""Settings for every environment. Values that differ between machines come from
``config.env``; ``production`` and ``test`` only override what they must."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DJANGO_DEBUG", default=False)
# Development fallback only: production.py refuses to start without a real key.
SECRET_KEY = env_str("SECRET_KEY") or "insecure-development-key-change-me"
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY") or (
    # A fixed Fernet key for development and tests; never used when the variable is set.
    "dGVzc2VyYS1kZXZlbG9wbWVudC1vbmx5LWtleS0wMDA="
)

PLATFORM_NAME = env_str("TESSERA_PLATFORM_NAME", "Tessera") or "Tessera"
# Every tenant gets <slug>.<PLATFORM_DOMAIN>; the platform console lives on PLATFORM_DOMAIN itself.
PLATFORM_DOMAIN = env_str("TESSERA_PLATFORM_DOMAIN", "localhost") or "localhost"
PUBLIC_URL_SCHEME = env_str("TESSERA_URL_SCHEME", "http") or "http"
PUBLIC_URL_PORT = env_int("TESSERA_URL_PORT", 8000)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "billing",
    "resale",
    "provisioning",
    "audit",
    "support",
    "api",
    "portals",
    # Staff open the client area as a client (portals.console.login_as): templates only.
    "hijack",
]
# django.contrib.admin is the provider console only: tenant schemas have no admin log
# (their changes are in the audit log), one table fewer to copy for every new tenant.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    # Sign-in, password reset and two-factor: their tables (e-mail addresses,
    # authenticators) sit next to the users they belong to, in every schema.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "billing",
    "resale",
    "audit",
    "support",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls"
# New tenants are copies of this schema: cloning takes a fraction of a second where
# replaying every migration takes several.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Deploys skip tenants already at the code's migrations and migrate the rest with this
# many worker processes (tenants.deploys); new tenants take one of this many copies of
# the template made ahead of time (tenants.pool), 0 for none.
GET_EXECUTOR_FUNCTION = "tenants.deploys.executor_get"
TENANT_MIGRATION_WORKERS = env_int("TESSERA_MIGRATION_WORKERS", 2)
TENANT_POOL_SIZE = env_int("TESSERA_TENANT_POOL_SIZE", 5)
TENANT_LIMIT_SET_CALLS = True
# The first router answers; django-tenants insists on seeing its own in the list too.
DATABASE_ROUTERS = [
    "config.routers.SchemaPlacementRouter",
    "django_tenants.routers.TenantSyncRouter",
]

MIDDLEWARE = [
    # Static files (the provider console's styles) are the same for every host: served
    # before any tenant is looked up, by gunicorn itself in production.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RefuseNulCharactersMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "hijack.middleware.HijackUserMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.ProviderTwoFactorMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portals.common.context_processors.tenant",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASE_URL = env_str("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/tessera"
# Seconds a web or Celery process keeps a database connection: every PostgreSQL backend
# caches the catalogue entries of the tables it touched, which with thousands of tenant
# schemas grows with every tenant a process serves; recycling the connection frees it.
# Behind PgBouncer, its server_lifetime recycles the server side (ARCHITECTURE.md).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE)}
# A persistent connection that has used more tenant schemas than this is recycled at the
# end of its request or task: each schema's catalogue entries stay in the PostgreSQL
# backend's caches until it ends (config/db_backend/base.py). 0 turns it off.
DATABASES["default"]["SCHEMAS_PER_CONNECTION"] = env_int("DATABASE_SCHEMAS_PER_CONNECTION", 200)
# django-tenants' backend, which can also work behind a pooler in transaction mode.
DATABASES["default"]["ENGINE"] = "config.db_backend"
# Behind PgBouncer in transaction mode (config/db_backend/base.py): the search path is
# set inside each transaction, and nothing that needs a session is used.
DATABASES["default"]["TRANSACTION_POOLING"] = env_bool("DATABASE_TRANSACTION_POOLING")
if DATABASES["default"]["TRANSACTION_POOLING"]:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL") or "redis://127.0.0.1:6379/0"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every key carries the schema of the request or task that wrote it.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "tessera") or "tessera",
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    # The provider console's permissions follow the staff member's role.
    "accounts.roles.ProviderRoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# Login as client (django-hijack): who may is decided per tenant by the staff member's role;
# the banner and the way back are the portals' own (templates/includes/login_as_banner.html).
HIJACK_PERMISSION_CHECK = "portals.common.access.may_login_as_client"
HIJACK_INSERT_BEFORE = None

# django-allauth: the login form, password reset by e-mail, TOTP two-factor with recovery
# codes (accounts/adapters.py ties them to the tenant of the host and its brand).
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# Accounts are made at checkout or by a tenant's staff, never through an open sign-up;
# the address is the one the tenant knows its client by.
ACCOUNT_EMAIL_VERIFICATION = "none"
# Sessions last SESSION_COOKIE_AGE, as they did before allauth.
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = "accounts.tokens.SchemaPasswordResetTokenGenerator"
ACCOUNT_PREVENT_ENUMERATION = True
# Failed logins: per address on this host (and per IP) in the cache, whose keys carry the
# schema, so one tenant's attackers never lock out another tenant's people.
LOGIN_ATTEMPTS_LIMIT = env_int("TESSERA_LOGIN_ATTEMPTS_LIMIT", 5)
LOGIN_ATTEMPTS_TIMEOUT_S = env_int("TESSERA_LOGIN_ATTEMPTS_TIMEOUT_S", 300)
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"20/m/ip,{LOGIN_ATTEMPTS_LIMIT}/{LOGIN_ATTEMPTS_TIMEOUT_S}s/key",
}
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# The per-IP limits read the client address behind our own proxies (Caddy: 1), as the
# API's do; otherwise every visitor would share the proxy's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TESSERA_NUM_PROXIES", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_PERIOD = 30
MFA_TOTP_DIGITS = 6
MFA_RECOVERY_CODE_COUNT = 10
# Provider staff without a TOTP authenticator are sent from the provider console to its
# set-up page. Off by default so an existing installation keeps letting its staff in; a
# tenant's owner decides the same for the tenant's staff in the console.
PROVIDER_REQUIRE_2FA = env_bool("TESSERA_PROVIDER_REQUIRE_2FA", default=False)
# A session cookie belongs to the host that set it: tenant A's cookie never reaches tenant B.
SESSION_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Filled by collectstatic for production; in development and tests WhiteNoise serves the
# apps' own files (WHITENOISE_USE_FINDERS follows DEBUG) and needs no such folder.
STATIC_ROOT = None if DEBUG else BASE_DIR / ".local" / "static"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / ".local" / "media")
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "billing@localhost")

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE") or "celery"
# A task is acknowledged only once done: a killed worker leaves it to be redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "billing-run-daily": {
        "task": "billing.tasks.billing_run_all_tenants",
        "schedule": crontab(hour=2, minute=0),
    },
    "resale-provider-renewals": {
        "task": "resale.tasks.provider_renewals_task",
        "schedule": crontab(hour=1, minute=30),
    },
    "resale-outbox-relay": {
        "task": "resale.tasks.upstream_commands_relay_all_tenants",
        "schedule": 30.0,
    },
    "resale-wholesale-invoices": {
        "task": "resale.tasks.wholesale_invoices_task",
        "schedule": crontab(day_of_month=1, hour=3, minute=0),
    },
    "resale-reconciliation": {
        "task": "resale.tasks.reconciliation_run_all_task",
        "schedule": crontab(hour=4, minute=30),
    },
    "resale-auto-topups": {
        "task": "resale.tasks.reseller_auto_topups_task",
        "schedule": 900.0,
    },
    "support-tickets-auto-close": {
        "task": "support.tasks.tickets_auto_close_all_tenants",
        "schedule": crontab(minute=15),
    },
    "support-mailboxes-fetch": {
        "task": "support.tasks.mailboxes_fetch_all_tenants",
        "schedule": 60.0,
    },
    "support-escalations-sync": {
        "task": "support.tasks.escalations_sync_all_tenants",
        "schedule": 60.0,
    },
    "support-tickets-sla-overdue": {
        "task": "support.tasks.tickets_sla_overdue_all_tenants",
        "schedule": 300.0,
    },
    "tenants-pool-refill": {
        "task": "tenants.tasks.tenant_pool_refill_task",
        "schedule": 300.0,
    },
    "provisioning-jobs-relay": {
        "task": "provisioning.tasks.provisioning_jobs_requeue_stale_task",
        "schedule": 60.0,
    },
    "resale-domains-relay": {
        "task": "resale.tasks.upstream_domains_relay_task",
        "schedule": 60.0,
    },
    "resale-domains-sync": {
        "task": "resale.tasks.upstream_domains_sync_task",
        "schedule": crontab(hour=0, minute=45),
    },
}
# How many tenants' billing runs go at once in the daily fan-out (billing.tasks).
BILLING_RUN_CONCURRENCY = env_int("BILLING_RUN_CONCURRENCY", 4)
# The same for the daily reconciliation with the provider (resale.tasks).
RECONCILIATION_CONCURRENCY = env_int("RECONCILIATION_CONCURRENCY", 4)
# Days an upstream service may stay unrenewed for lack of reseller balance before the
# provider suspends it.
RESALE_RENEWAL_GRACE_DAYS = env_int("RESALE_RENEWAL_GRACE_DAYS", 3)
# The provider's legal identity on its wholesale invoices to resellers.
PROVIDER_LEGAL_NAME = env_str("PROVIDER_LEGAL_NAME") or PLATFORM_NAME
PROVIDER_ADDRESS = env_str("PROVIDER_ADDRESS") or ""
PROVIDER_COUNTRY = env_str("PROVIDER_COUNTRY") or "IT"
PROVIDER_VAT_NUMBER = env_str("PROVIDER_VAT_NUMBER") or ""
PROVIDER_VAT_RATE = env_str("PROVIDER_VAT_RATE") or "22"
# Fault injection for resilience drills and tests; never set in normal operation.
RESALE_UPSTREAM_FAULT_RATE = float(env_str("RESALE_UPSTREAM_FAULT_RATE") or 0)
# Seconds before a sent command is asked about when no report arrived.
RESALE_SENT_RECHECK_S = env_int("RESALE_SENT_RECHECK_S", 30)
# Domains: the nameservers a registration gets when the order names none, and how often
# a pending transfer-in is asked about.
DOMAIN_DEFAULT_NAMESERVERS = [
    name.strip()
    for name in (
        env_str("DOMAIN_DEFAULT_NAMESERVERS") or "ns1.tessera.invalid,ns2.tessera.invalid"
    ).split(",")
    if name.strip()
]
DOMAIN_TRANSFER_POLL_S = env_int("DOMAIN_TRANSFER_POLL_S", 900)
PROVISIONING_RETRY_BASE_S = env_int("PROVISIONING_RETRY_BASE_S", 15)
PROVISIONING_RETRY_MAX_S = env_int("PROVISIONING_RETRY_MAX_S", 900)
# How long a worker may hold a provisioning job before the relay assumes it died.
PROVISIONING_JOB_LEASE_S = env_int("PROVISIONING_JOB_LEASE_S", 1800)
PROVISIONING_QUEUED_GRACE_S = env_int("PROVISIONING_QUEUED_GRACE_S", 120)
PROVISIONING_JOB_MAX_ATTEMPTS = env_int("PROVISIONING_JOB_MAX_ATTEMPTS", 8)

# Support desk attachments (support.attachments): the largest file and how many files
# one message may carry.
SUPPORT_ATTACHMENT_MAX_BYTES = env_int("SUPPORT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
SUPPORT_ATTACHMENTS_PER_MESSAGE = env_int("SUPPORT_ATTACHMENTS_PER_MESSAGE", 5)
# Inbound e-mail (support.inbound): above this size only the headers are read (the whole
# message is still kept); more messages than the limit from one sender within the window
# are kept but neither open nor add to tickets (a mail loop's brake); messages read per
# mailbox per run.
SUPPORT_INBOUND_MAX_BYTES = env_int("SUPPORT_INBOUND_MAX_BYTES", 25 * 1024 * 1024)
SUPPORT_INBOUND_SENDER_LIMIT = env_int("SUPPORT_INBOUND_SENDER_LIMIT", 20)
SUPPORT_INBOUND_SENDER_WINDOW_S = env_int("SUPPORT_INBOUND_SENDER_WINDOW_S", 3600)
SUPPORT_INBOUND_BATCH = env_int("SUPPORT_INBOUND_BATCH", 50)

# Stripe: the platform's own account. It collects reseller top-ups and, with Connect,
# creates tenants' connected accounts; a tenant's clients always pay into the tenant's own
# account (its Connect account or its own keys, kept encrypted in its schema).
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY") or ""
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY") or ""
# Signs the events of the platform's account endpoint; the Connect endpoint (events of
# connected accounts) has a secret of its own.
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET") or ""
STRIPE_CONNECT_WEBHOOK_SECRET = env_str("STRIPE_CONNECT_WEBHOOK_SECRET") or ""
# Empty means Stripe itself; tests point it at a local server.
STRIPE_API_BASE = env_str("STRIPE_API_BASE") or ""

# The local stand-ins of the outside systems (``sandbox.launcher``), which ``make run``
# starts when no real service is configured; production settings refuse them.
TESSERA_SANDBOX = env_bool("TESSERA_SANDBOX", default=False)
# Demo tenant label -> the Stripe key of its account on the local Stripe stand-in.
SANDBOX_STRIPE_KEYS = dict(
    item.split("=", 1) for item in env_list("TESSERA_SANDBOX_STRIPE_KEYS") if "=" in item
)
# Where the simulated panel's single sign-on links open (``sandbox.simpanel``).
SIMULATED_PANEL_URL = env_str("SIMULATED_PANEL_URL") or ""
# An EPP registry that serves every TLD no registrar account of the provider lists (the
# local EPP registry under `make run`). EPP_CAFILE: the registry's CA, when not a public one.
EPP_HOST = env_str("EPP_HOST") or ""
EPP_PORT = env_int("EPP_PORT", 700)
EPP_USERNAME = env_str("EPP_USERNAME") or ""
EPP_PASSWORD = env_str("EPP_PASSWORD") or ""
EPP_CAFILE = env_str("EPP_CAFILE") or ""
# Which registrar serves a TLD no registrar account lists when the provider has configured
# none at all: the simulated one (demos, tests); production turns this off.
REGISTRAR_SIMULATED_FALLBACK = env_bool("TESSERA_REGISTRAR_SIMULATED_FALLBACK", default=True)
# Which RDAP server answers for each TLD (RFC 9224); empty: the shipped data/rdap/dns.json.
RDAP_BOOTSTRAP_FILE = env_str("RDAP_BOOTSTRAP_FILE") or ""

# VIES, the EU's check of VAT numbers (billing.vies); `make run` and the tests point it
# at the local stand-in (sandbox.vies_server).
VIES_URL = (
    env_str("VIES_URL") or "https://ec.europa.eu/taxation_customs/vies/services/checkVatService"
)
VIES_TIMEOUT_S = env_int("VIES_TIMEOUT_S", 10)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Secure by default: a DRF view that names nothing needs a tenant API key with the
    # scope it declares (api). The resale API sets its own classes.
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.keys.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasScope"],
    # Errors as RFC 9457 application/problem+json.
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    # Requests a minute per API key unless the key says otherwise (api.throttling).
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("TESSERA_API_RATE_LIMIT") or "600/minute"},
    # Proxies of ours in front of the app (Caddy: 1); the API key IP allow-list reads the
    # client address from X-Forwarded-For only behind them.
    "NUM_PROXIES": env_int("TESSERA_NUM_PROXIES", 0) or None,
}
SPECTACULAR_SETTINGS = {
    # A tenant's document is titled with its own brand (api.schema.schema_brand):
    # nothing in it names the platform.
    "TITLE": "Site API",
    "DESCRIPTION": "The REST API of this site, for integrations: clients, orders, services, "
    "invoices, payments, the balance at the provider and webhooks. Authenticate with an "
    "API key of the site (`Authorization: Bearer tsk_…`); each key has scopes. Every POST "
    "accepts an `Idempotency-Key`. Errors are RFC 9457 problem documents.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    # Separate request and response components: read-only fields are not asked for in
    # requests, which generated clients need.
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.schema_brand",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ClientStatusEnum": "billing.models.Client.Status",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "ServiceStatusEnum": "billing.models.Service.Status",
        "OrderStatusEnum": "billing.models.Order.Status",
        "BillingCycleEnum": "billing.models.BillingCycle",
        "ClientKindEnum": "billing.models.Client.Kind",
        "InvoiceLineKindEnum": "billing.models.InvoiceLine.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
