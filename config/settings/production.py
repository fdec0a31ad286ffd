from django.core.exceptions import ImproperlyConfigured

from config.env import env_required
from config.settings.base import *  # noqa: F403

if TESSERA_SANDBOX or SANDBOX_STRIPE_KEYS or SIMULATED_PANEL_URL:  # noqa: F405
    raise ImproperlyConfigured(
        "The local stand-ins (TESSERA_SANDBOX, TESSERA_SANDBOX_STRIPE_KEYS, "
        "SIMULATED_PANEL_URL) are for development only: unset them in production."
    )

DEBUG = False
# A TLD no registrar account serves is refused, never registered at a simulated registry.
REGISTRAR_SIMULATED_FALLBACK = False
SECRET_KEY = env_required("SECRET_KEY")
FIELD_ENCRYPTION_KEY = env_required("FIELD_ENCRYPTION_KEY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
