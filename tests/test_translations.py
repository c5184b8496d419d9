"""The English catalogues: every message in the code has a translation, and a message means one thing everywhere.

Flask-Babel merges the areas' catalogues (translations/<area>), so when two areas translate the same
Chinese message differently, whichever catalogue loads last wins on every page. These tests keep that
from happening again, and catch a message added to a template without its English.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app", "cases", "workflows", "templates")
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def _catalogues() -> dict[str, dict[str, str]]:
    """area -> {msgid: English} for every compiled area."""
    found = {}
    for po in sorted(ROOT.glob("translations/*/en/LC_MESSAGES/messages.po")):
        with po.open("rb") as fh:
            catalogue = read_po(fh)
        area = po.parts[-4]
        found[area] = {}
        for message in catalogue:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            text = message.string if isinstance(message.string, str) else message.string[0]
            found[area][msgid] = "" if message.fuzzy else text
    return found


def test_there_are_catalogues_to_check():
    assert {"public", "staff", "operator", "bulletin"} <= set(_catalogues())


def test_a_message_shared_by_two_areas_has_one_translation():
    by_message: dict[str, dict[str, str]] = {}
    for area, messages in _catalogues().items():
        for msgid, text in messages.items():
            by_message.setdefault(msgid, {})[area] = text
    conflicts = {m: areas for m, areas in by_message.items() if len(set(areas.values())) > 1}
    assert conflicts == {}


def test_every_message_in_the_code_and_templates_has_english():
    translated = {m for messages in _catalogues().values() for m, text in messages.items() if text}
    missing = []
    for folder in SOURCES:
        extracted = extract_from_dir(
            str(ROOT / folder), method_map=[("**.py", "python"), ("**.html", "jinja2")], keywords=KEYWORDS
        )
        for filename, line, message, _comments, _context in extracted:
            msgid = message if isinstance(message, str) else message[0]
            if msgid and msgid not in translated:
                missing.append(f"{folder}/{filename}:{line} {msgid}")
    assert missing == []


def test_a_shared_message_lives_in_the_core_catalogue_only():
    """A message two areas use is kept once, in translations/core (`scripts/catalogues.py` moves it there)."""
    holders: dict[str, list[str]] = {}
    for area, messages in _catalogues().items():
        for msgid in messages:
            holders.setdefault(msgid, []).append(area)
    assert "core" in _catalogues()
    assert {m: areas for m, areas in holders.items() if len(areas) > 1} == {}
