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
