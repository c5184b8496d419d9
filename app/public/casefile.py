"""The consumer's actions on a case file, shared by the portal and the API: file, add materials, withdraw, view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _

from cases import codes, intake, materials, tracking
from cases.models import Appeal, Material, utcnow
from workflows import calendar, engine, filing, lifecycle
from workflows.lifecycle import CONSUMER


def today_local() -> dt.date:
    """Today's date in Asia/Shanghai, the date every rule about 'today' uses."""
    return calendar.local_date(utcnow())


def submit_appeal(
    cleaned: Mapping[str, Any],
    files: Iterable[Any] = (),
    received_at: dt.datetime | None = None,
    alone: bool = False,
) -> intake.Filed:
    """File an online appeal as the consumer (`workflows.filing`); the caller commits.

    `alone`: the appeal is all the request writes; it is committed at once (`filing.file_case`)."""
    return filing.file_case(cleaned, channel="online", role=CONSUMER, received_at=received_at, files=files, alone=alone)


def add_materials(appeal: Appeal, files: Iterable[Any]) -> list[Material]:
    """Store files the consumer adds to an open case; a case waiting for materials goes back to review."""
    if appeal.status not in lifecycle.OPEN_STATES:
        raise engine.ActionNotAllowed(_("申诉已结束，不能再补充材料。"))
    stored = [materials.store_material(appeal, f, source="consumer") for f in filing.real_files(files)]
    if stored and appeal.status == "awaiting_materials":
        engine.perform(appeal, "receive_materials", role=CONSUMER)
    return stored


def withdraw(appeal: Appeal, reason: str) -> None:
    """Withdraw the appeal (撤回) with the consumer's reason; the caller commits."""
    engine.perform(appeal, "withdraw", role=CONSUMER, data={"reason": reason})


def case_view(appeal: Appeal, lang: str) -> dict[str, Any]:
    """The consumer's view of a case with the state and clock names in the page's language."""
    view = tracking.public_view(appeal, lang)
    state = lifecycle.STATES.get(appeal.status)
    view["status_name"] = codes.localized(state, lang) if state else appeal.status
    view["status_text"] = codes.localized(state, lang, "public_") if state else ""
    view["open"] = appeal.status in lifecycle.OPEN_STATES
    for d in view["deadlines"]:
        rule = lifecycle.DEADLINES.get(d["kind"])
        d["name"] = codes.localized(rule, lang) if rule else d["kind"]
        d["due_date"] = calendar.local_date(d["due_at"])  # the last day, in Asia/Shanghai
    return view
