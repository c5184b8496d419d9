"""Filing a case: the one service the portal, the API and the staff's phone and visit intake share.

File (case number, access code), submit through the lifecycle table (the decision clock starts), write the
new case (`intake.write_new_case`), store the files that came with it. The caller has cleaned the fields with `intake.clean_appeal`
and commits. `cases/` cannot hold it: submitting is a lifecycle action, and `cases` does not import
`workflows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app

from cases import intake, materials
from cases.db import db
from cases.models import User
from workflows import engine


def real_files(files: Iterable[Any]) -> list[Any]:
    """The uploads that carry a file (a browser sends an empty part when none was chosen)."""
    return [f for f in files if f is not None and getattr(f, "filename", "")]


def file_case(
    cleaned: Mapping[str, Any],
    *,
    channel: str,
    role: str,
    actor: User | None = None,
    received_at: dt.datetime | None = None,
    files: Iterable[Any] = (),
    alone: bool = False,
) -> intake.Filed:
    """Create and submit a new appeal with its files; `role`/`actor` are who submits it.

    `alone`: the case is all the caller writes, and it is committed here, in one statement
    (`intake.write_new_case`); it comes with no files.
    """
    files = real_files(files)
    if alone and files:
        raise ValueError("a case filed alone comes without files")
    with db.session.no_autoflush:  # a look-up on the way (a setting, the calendar) must not write the case early
        filed = intake.file_appeal(
            cleaned, prefix=current_app.config["CASE_PREFIX"], channel=channel, received_at=received_at, alone=alone
        )
        engine.perform(filed.appeal, "submit", role=role, actor=actor, at=filed.appeal.received_at)
        intake.write_new_case(filed.appeal, alone=alone)
    source = "consumer" if actor is None else "staff"
    for f in files:
        materials.store_material(filed.appeal, f, source=source, uploaded_by=actor)
    return filed
