"""Materials that reach the centre by post or at the counter, recorded by staff: a scanned upload, or a paper item
kept on file and described. Both count in 用户提交材料 (they are the appellant's), as online uploads do.

The rules live here so the staff web page and the API record materials alike: how the item arrived, the day it
arrived (not in the future, not before the appeal), a description for a paper item. Each recording leaves an
audit event on the case (`record_material`, internal; it changes no state).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from cases import clock, materials
from cases.db import db
from cases.models import Appeal, CaseEvent, Material, User, utcnow

ARRIVED_BY = ("post", "counter")
DESCRIPTION_MAX = 500
NAME_MAX = 120


class MaterialNotRecorded(Exception):
    """What to fix, by field: `errors` {field: [message]}; `status` 422, or the upload's own (413, 415, 507 ...)."""

    def __init__(self, message: str, errors: dict[str, list[str]], status: int = 422):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.status = status


def arrived_by_names() -> dict[str, str]:
    """How an item can arrive, in the page's language."""
    return {"post": _("邮寄"), "counter": _("窗口递交")}


def _local_today(now: dt.datetime) -> dt.date:
    return clock.local_date(now)


def _check(appeal: Appeal, arrived_by: str, received_on: dt.date | None, now: dt.datetime) -> dict[str, list[str]]:
    """The problems of how and when an item arrived."""
    errors: dict[str, list[str]] = {}
    if arrived_by not in ARRIVED_BY:
        errors["arrived_by"] = [_("请选择材料的递交方式（邮寄或窗口递交）。")]
    if received_on is None:
        errors["received_on"] = [_("请填写收到材料的日期。")]
    elif received_on > _local_today(now):
        errors["received_on"] = [_("收到日期不能晚于今天。")]
    elif received_on < _local_today(appeal.received_at):
        errors["received_on"] = [_("收到日期不能早于收到申诉的日期。")]
    return errors


def _received_at(received_on: dt.date, now: dt.datetime) -> dt.datetime:
    """Now for an item that arrived today, else the start of the day it arrived (Asia/Shanghai), as naive UTC."""
    if received_on == _local_today(now):
        return now
    return clock.local_midnight_utc(received_on)


def _audit(appeal: Appeal, material: Material, user: User | None, now: dt.datetime) -> None:
    db.session.add(
        CaseEvent(
            appeal=appeal,
            action="record_material",
            from_state=appeal.status,
            to_state=appeal.status,
            at=now,
            actor_id=user.id if user else None,
            actor_kind="staff",
            details={"material": material.original_name, "arrived_by": material.arrived_by},
            internal=True,
            operator_id=appeal.operator_id,
        )
    )


def record_upload(
    appeal: Appeal,
    upload: Any,
    *,
    arrived_by: str,
    received_on: dt.date | None,
    user: User | None,
    description: str = "",
    now: dt.datetime | None = None,
) -> Material:
    """Store a scan or file of an item that came by post or at the counter (added to the session, not committed).

    The file passes the same checks as an appellant's upload (type by content, size, active content).
    """
    now = now or utcnow()
    errors = _check(appeal, arrived_by, received_on, now)
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("说明最多%(n)s字。", n=DESCRIPTION_MAX)]
    if errors:
        raise MaterialNotRecorded(_("请检查填写的内容。"), errors)
    try:
        material = materials.store_material(appeal, upload, source="staff", uploaded_by=user)
    except materials.MaterialRejected as exc:
        raise MaterialNotRecorded(exc.message, {"file": [exc.message]}, exc.status) from exc
    material.arrived_by = arrived_by
    material.description = description
    material.received_at = _received_at(received_on, now)
    _audit(appeal, material, user, now)
    return material


def record_paper(
    appeal: Appeal,
    *,
    description: str,
    arrived_by: str,
    received_on: dt.date | None,
    user: User | None,
    now: dt.datetime | None = None,
) -> Material:
    """Record a paper item kept on file (no scan): what it is, how and when it arrived (added, not committed)."""
    now = now or utcnow()
    errors = _check(appeal, arrived_by, received_on, now)
    description = (description or "").strip()
    if not description:
        errors["description"] = [_("请说明这份纸质材料是什么，例如“缴费发票原件2张”。")]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("说明最多%(n)s字。", n=DESCRIPTION_MAX)]
    elif "\x00" in description:
        errors["description"] = [_("说明中含有无效字符。")]
    if errors:
        raise MaterialNotRecorded(_("请检查填写的内容。"), errors)
    received_at = _received_at(received_on, now)
    material = Material(
        appeal=appeal,
        stored_name=None,
        original_name=description[:NAME_MAX],
        size=0,
        mime_type="",
        # No bytes to hash: the digest of what the item is and when it came, so the row is like the others.
        sha256=hashlib.sha256(f"paper\n{received_at.isoformat()}\n{description}".encode()).hexdigest(),
        received_at=received_at,
        source="staff",
        uploaded_by_id=user.id if user else None,
        arrived_by=arrived_by,
        description=description,
    )
    db.session.add(material)
    _audit(appeal, material, user, now)
    return material


def case_materials(appeal: Appeal) -> list[Material]:
    """A case's materials, oldest first (every source: the appellant's, staff-recorded, the operator's)."""
    return list(
        db.session.scalars(
            sa.select(Material).where(Material.appeal_id == appeal.id).order_by(Material.received_at, Material.id)
        )
    )


def case_material(appeal: Appeal, material_id: int) -> Material | None:
    """One material of the case, or None (a material of another case is not found either)."""
    material = db.session.get(Material, material_id)
    return material if material is not None and material.appeal_id == appeal.id else None
