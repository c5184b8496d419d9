"""Configuration from environment variables, with safe defaults for a local run."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MB = 1024 * 1024


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw in (None, "") else raw not in ("0", "false", "no", "off")


def database_url(instance_path: str) -> str:
    """DATABASE_URL, normalised to the psycopg 3 driver; a SQLite file in the instance folder by default."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'appeals.db'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def secret_key(instance_path: str, name: str = "SECRET_KEY") -> str:
    """The key `name` from the environment, else one generated once and kept in the instance folder (lower-cased)."""
    key = os.environ.get(name)
    if key:
        return key
    path = Path(instance_path) / name.lower()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def from_environment(instance_path: str) -> dict:
    """The whole configuration as a dict."""
    redis_url = os.environ.get("REDIS_URL") or None
    max_file = _int("MAX_FILE_BYTES", 20 * MB)
    max_appeal = _int("MAX_APPEAL_BYTES", 100 * MB)
    return {
        "SECRET_KEY": secret_key(instance_path),
        # The key of the access codes' keyed hashes (cases/tracking.py): the same on every node, never changed
        # (a new key makes every issued code fail; consumers then ask for a new one, 找回查询码).
        "ACCESS_CODE_KEY": secret_key(instance_path, "ACCESS_CODE_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        # JIT compiling costs more than it saves on short queries, and every page is short (docs/PERFORMANCE.md).
        # No pool_pre_ping: app/pool.py pings only the connections that have been idle (a round trip less a request).
        "SQLALCHEMY_ENGINE_OPTIONS": (
            {"connect_args": {"options": "-c jit=off"}} if database_url(instance_path).startswith("postgres") else {}
        ),
        "POOL_PING_IDLE_SECONDS": float(os.environ.get("POOL_PING_IDLE_SECONDS") or 1.0),
        "REDIS_URL": redis_url,
        # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0: none, the headers are ignored).
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # The centre's time zone (cases.clock): local dates, midnights and the working-day calendar.
        "TIME_ZONE": os.environ.get("TIME_ZONE") or "Asia/Shanghai",
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "appeals"),
        # A running job's heartbeat: every interval, lapsing interval + grace seconds after a worker dies.
        "RQ_JOB_MONITORING_INTERVAL": _int("RQ_JOB_MONITORING_INTERVAL", 30),
        "RQ_HEARTBEAT_GRACE": _int("RQ_HEARTBEAT_GRACE", 60),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER") or str(Path(instance_path) / "uploads"),
        # Where new materials go: "" the local UPLOAD_FOLDER, or s3://bucket/prefix (cases/storage.py).
        "MATERIALS_STORAGE": os.environ.get("MATERIALS_STORAGE", ""),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_REGION": os.environ.get("S3_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        # Where an upload is spooled and checked before it goes to the object store (the system's temp folder).
        "UPLOAD_SPOOL_FOLDER": os.environ.get("UPLOAD_SPOOL_FOLDER", ""),
        # The CJK font embedded in the bulletin PDF (Debian's fonts-noto-cjk); app/bulletin_pdf.py.
        "PDF_FONT_PATH": os.environ.get("PDF_FONT_PATH") or "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        # Years after a case is closed that its personal data is kept (cases/retention.py; 个人信息保护法).
        "RETENTION_YEARS": _int("RETENTION_YEARS", 3),
        # Days a webhook event is kept once its deliveries have ended (cases/webhooks.py; at least the feed's 30).
        "WEBHOOK_KEEP_DAYS": _int("WEBHOOK_KEEP_DAYS", 90),
        # Days a finished (done) outbox job is kept (workflows/outbox.py); failed ones stay.
        "OUTBOX_KEEP_DAYS": _int("OUTBOX_KEEP_DAYS", 30),
        "MAX_FILE_BYTES": max_file,
        "MAX_APPEAL_BYTES": max_appeal,
        # Werkzeug refuses a bigger body before reading it; one request carries at most one appeal's files.
        "MAX_CONTENT_LENGTH": max_appeal + MB,
        "MAX_FORM_MEMORY_SIZE": 2 * MB,
        # The cap of every JSON body of /api/v1, enforced while reading (app/api/body.py).
        "API_JSON_MAX_BYTES": _int("API_JSON_MAX_BYTES", 256 * 1024),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis down must not turn every rate-limited page into a 500: limits fall back to this process's memory.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") != "0",
        "RATELIMIT_STRATEGY": "moving-window",
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": _int("SESSION_MINUTES", 480) * 60,
        "IDLE_TIMEOUT_MINUTES": _int("IDLE_TIMEOUT_MINUTES", 30),  # a signed-in session unused this long ends
        "WTF_CSRF_TIME_LIMIT": None,
        "CENTRE_NAME": os.environ.get("CENTRE_NAME", "吉林省电信用户申诉受理中心"),
        "CENTRE_SHORT_NAME": os.environ.get("CENTRE_SHORT_NAME", "省申诉受理中心"),
        "PROVINCE": os.environ.get("PROVINCE", "吉林省"),
        "CASE_PREFIX": os.environ.get("CASE_PREFIX", "JL"),
        "OPERATOR_REPLY_DAYS": _int("OPERATOR_REPLY_DAYS", 10),
        "OPERATOR_REPLY_WORKING_DAYS": os.environ.get("OPERATOR_REPLY_WORKING_DAYS", "0") == "1",
        # An urgent case's shorter clocks (workflows/lifecycle.py), counted like the ordinary ones.
        "URGENT_DECISION_DAYS": _int("URGENT_DECISION_DAYS", 1),
        "URGENT_OPERATOR_REPLY_DAYS": _int("URGENT_OPERATOR_REPLY_DAYS", 2),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "noreply@appeals.invalid"),
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 10),
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL", ""),
        "SMS_GATEWAY_TOKEN": os.environ.get("SMS_GATEWAY_TOKEN", ""),
        "SMS_TIMEOUT": _int("SMS_TIMEOUT", 10),
        # The portal's address as consumers reach it, for links in SMS and e-mail (the rating invitation).
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        # "production" makes the start refuse settings only fit for development (app.consumer_settings).
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        # Without a gateway, SMS go to the development backend (log + the admin's notifications page) unless 0.
        "SMS_DEV_BACKEND": _flag("SMS_DEV_BACKEND", os.environ.get("APP_ENV") != "production"),
        # Filing needs a verified mobile number: on by default when an SMS gateway is configured.
        "REQUIRE_PHONE_VERIFICATION": _flag("REQUIRE_PHONE_VERIFICATION", bool(os.environ.get("SMS_GATEWAY_URL"))),
        # Operators' webhooks (cases/webhooks.py, workflows/webhooks.py): secrets sealed under this key at rest.
        "WEBHOOK_SECRETS_KEY": os.environ.get("WEBHOOK_SECRETS_KEY", ""),
        "WEBHOOK_TIMEOUT": _int("WEBHOOK_TIMEOUT", 10),
        "WEBHOOK_PAUSE_AFTER_HOURS": _int("WEBHOOK_PAUSE_AFTER_HOURS", 24),
    }


class ConfigurationError(RuntimeError):
    """A setting the app refuses to start with."""


# The keys every node of a deployment must share: in production they come from the environment, never from a
# node's own instance folder (two nodes would each make their own, and a session or access code issued on one
# would fail on the other).
SHARED_KEYS = ("SECRET_KEY", "ACCESS_CODE_KEY")


def check(config: dict) -> None:
    """Refuse to start in production with a shared key missing from the environment, or with phone verification
    required and no SMS gateway to send the codes."""
    if config.get("APP_ENV") == "production":
        missing = [name for name in SHARED_KEYS if not os.environ.get(name)]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)} must be set in the environment, the same on every node (APP_ENV=production)"
            )
    if config.get("APP_ENV") == "production" and config.get("REQUIRE_PHONE_VERIFICATION"):
        if not config.get("SMS_GATEWAY_URL"):
            raise ConfigurationError(
                "REQUIRE_PHONE_VERIFICATION is on but no SMS_GATEWAY_URL is set (APP_ENV=production)"
            )
