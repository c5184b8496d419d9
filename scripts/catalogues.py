"""One message, one English text: move every message that two areas' catalogues share into `translations/core`.

Flask-Babel merges the areas' catalogues (translations/<area>), and when two give one Chinese message different
English the last one loaded wins on every page. So a message used by more than one area lives once, in the core
catalogue; the areas keep only their own. `make extract AREA=...` runs this after updating an area, so a message
the area shares with another moves to core again; a message two areas translate differently stops it (fix one).

    python scripts/catalogues.py          # move the shared messages into core
    python scripts/catalogues.py --check  # exit 1 when a message is in two catalogues
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
CORE = "core"


def _path(area: str) -> Path:
    return TRANSLATIONS / area / "en" / "LC_MESSAGES" / "messages.po"


def load() -> dict[str, Catalog]:
    """Every area's English catalogue (core too, empty when it has none yet)."""
    found = {}
    for po in sorted(TRANSLATIONS.glob("*/en/LC_MESSAGES/messages.po")):
        with po.open("rb") as fh:
            found[po.parts[-4]] = read_po(fh, locale="en")
    found.setdefault(CORE, Catalog(locale="en", project="appeals core", fuzzy=False))
    return found


def _key(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def shared(catalogues: dict[str, Catalog]) -> dict[str, list[str]]:
    """msgid -> the catalogues holding it, for each message held by more than one."""
    holders: dict[str, list[str]] = {}
    for area, catalogue in catalogues.items():
        for message in catalogue:
            if message.id:
                holders.setdefault(_key(message), []).append(area)
    return {msgid: areas for msgid, areas in holders.items() if len(areas) > 1}


def conflicts(catalogues: dict[str, Catalog], found: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """The shared messages whose English differs between the catalogues holding them."""
    out = {}
    for msgid, areas in found.items():
        texts = {area: str(catalogues[area][msgid].string) for area in areas}
        if len(set(texts.values())) > 1:
            out[msgid] = texts
    return out


def move_to_core(catalogues: dict[str, Catalog], found: dict[str, list[str]]) -> None:
    """Each shared message into core (with every place it is used), out of the areas."""
    core = catalogues[CORE]
    for msgid, areas in found.items():
        first = catalogues[areas[0]][msgid]
        locations = sorted({loc for area in areas for loc in catalogues[area][msgid].locations})
        if msgid not in core:
            core.add(first.id, first.string, locations, flags=first.flags, auto_comments=first.auto_comments)
        else:
            core[msgid].locations = sorted(set(core[msgid].locations) | set(locations))
        for area in areas:
            if area != CORE:
                del catalogues[area][first.id]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a message is in two catalogues")
    args = parser.parse_args()
    catalogues = load()
    found = shared(catalogues)
    bad = conflicts(catalogues, found)
    for msgid, texts in bad.items():
        print(f"different English for {msgid!r}: {texts}", file=sys.stderr)
    if bad or (args.check and found):
        if found and not bad:
            print(f"{len(found)} message(s) in more than one catalogue: run scripts/catalogues.py", file=sys.stderr)
        return 1
    if args.check:
        return 0
    move_to_core(catalogues, found)
    for area, catalogue in catalogues.items():
        if area == CORE and not len(catalogue):
            continue
        path = _path(area)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalogue)
    print(f"moved {len(found)} shared message(s) into translations/{CORE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
