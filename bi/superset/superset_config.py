"""Superset's configuration for eduq (read through SUPERSET_CONFIG_PATH by scripts/superset.sh).

Everything Superset writes lives under EDUQ_SUPERSET_HOME ($EDUQ_HOME/superset): its metadata
database (SQLite), the generated secret key, the uploaded-files folder. It listens on 127.0.0.1
only (the script starts it so), speaks Russian, and loads nothing from outside the machine: the
content security policy allows only Superset's own origin, which also blocks the Scarf telemetry
pixel the front end carries, and no map tiles or web fonts are fetched.
"""

import os
from pathlib import Path

_HOME = Path(os.environ["EDUQ_SUPERSET_HOME"])

SECRET_KEY = (_HOME / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"
DATA_DIR = str(_HOME)
UPLOAD_FOLDER = str(_HOME / "uploads")

# the UI in Russian
BABEL_DEFAULT_LOCALE = "ru"
LANGUAGES = {"ru": {"flag": "ru", "name": "Русский"}, "en": {"flag": "us", "name": "English"}}

# no telemetry, nothing from the internet
SCARF_ANALYTICS = False
_SELF = ["'self'"]
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": _SELF,
        "default-src": _SELF,
        "img-src": [*_SELF, "blob:", "data:"],
        "worker-src": [*_SELF, "blob:"],
        "connect-src": _SELF,
        "object-src": "'none'",
        "style-src": [*_SELF, "'unsafe-inline'"],
        "font-src": [*_SELF, "data:"],
        "script-src": [*_SELF, "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
CONTENT_SECURITY_POLICY_WARNING = False
THEME_FONT_URL_ALLOWED_DOMAINS = []

# BI readers only read: no CSV upload into the marts' databases, no file databases but the
# serving warehouse registered by the setup script (read-only)
PREVENT_UNSAFE_DB_CONNECTIONS = False  # the read-only DuckDB file is a local file
FEATURE_FLAGS = {"DASHBOARD_RBAC": False, "ALERT_REPORTS": False, "EMBEDDED_SUPERSET": False}
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50000
SUPERSET_WEBSERVER_TIMEOUT = 120
