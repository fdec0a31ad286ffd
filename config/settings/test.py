import os

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# One test database and cache prefix per test run, so runs side by side on one server
# never share them. Set in the environment so the worker processes a run starts share it.
TEST_RUN_ID = os.environ.setdefault("TESSERA_TEST_RUN_ID", str(os.getpid()))
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": f"test_{DATABASES['default']['NAME']}_{TEST_RUN_ID}"  # noqa: F405
}
CACHES["default"]["KEY_PREFIX"] = f"tessera-test-{TEST_RUN_ID}"  # noqa: F405
# Tasks queued by tests that start no worker go to a queue of the run's own, purged when
# the run ends: on the default queue, the next `make run` on this machine would pick them
# up for tenants that never existed in its database. A worker a test starts names its
# queue in CELERY_QUEUE.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or f"tessera-test-{TEST_RUN_ID}"
# Every test client comes from 127.0.0.1: per-IP login limits would add up across the
# whole suite. The per-account limit, the one the tests check, stays as it is.
ACCOUNT_RATE_LIMITS = {
    **ACCOUNT_RATE_LIMITS,  # noqa: F405
    "login": "10000/m/ip",
    "login_failed": f"10000/m/ip,{LOGIN_ATTEMPTS_LIMIT}/{LOGIN_ATTEMPTS_TIMEOUT_S}s/key",  # noqa: F405
    "reset_password": "10000/m/ip,5/m/key",
    "reset_password_from_key": "10000/m/ip",
}
# Static files straight from the apps, without a collectstatic step before the suite.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
