"""Language choice (Chinese by default), elder mode, and the template filters for dates, codes and masking."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask, g, has_request_context, request
from markupsafe import Markup

from cases import clock, codes, pii

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LANG_COOKIE = "lang"
ELDER_COOKIE = "elder"


def translation_directories() -> str:
    """Every area's catalogue folder (translations/<area>), joined as Flask-Babel expects."""
    dirs = sorted(str(p) for p in TRANSLATIONS.iterdir() if p.is_dir()) if TRANSLATIONS.exists() else []
    return ";".join(dirs) or str(TRANSLATIONS)


def select_locale() -> str:
    """zh unless the visitor chose English (cookie, or ?lang= on this request; an API client also by Accept-Language)."""
    if not has_request_context():
        return "zh"
    choice = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if choice is None and request.path.startswith("/api/"):
        choice = request.accept_languages.best_match(["zh", "en"])
    return "en" if choice == "en" else "zh"


def is_english() -> bool:
    return codes.current_lang() == "en"


def local_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in the centre's local time."""
    if value is None:
        return ""
    return clock.to_local(value).strftime(fmt)


def local_datetime_html(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> Markup | str:
    """The `local_dt` filter: the local time whose date and time never break inside (elder mode at 375 px); a
    line may break only between the date and the time."""
    text = local_datetime(value, fmt)
    return Markup(" ").join(Markup('<span class="nowrap">{}</span>').format(part) for part in text.split(" ") if part)


def local_date(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return local_datetime(value, "%Y-%m-%d")
    return value.isoformat()


def code_name(code: str | None, kind: str) -> str:
    """A shared code's name in the page's language."""
    return codes.name(kind, code, codes.current_lang())


def init_app(app: Flask) -> None:
    """Register the filters and the context every template sees."""
    app.add_template_filter(local_datetime_html, "local_dt")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(code_name, "code_name")
    app.add_template_filter(codes.localized, "localized")  # {{ state|localized }}: a row's zh/en name
    app.add_template_filter(pii.mask_phone, "mask_phone")
    app.add_template_filter(pii.mask_id_number, "mask_id")
    app.add_template_filter(pii.mask_address, "mask_address")
    app.add_template_filter(pii.mask_name, "mask_name")

    @app.context_processor
    def _context() -> dict:
        return {
            "lang": codes.current_lang(),
            "elder_mode": request.cookies.get(ELDER_COOKIE) == "1",
            "centre_name": app.config["CENTRE_NAME"],
            "current_identity": getattr(g, "user", None),
        }
