"""The consumer's own messages: the one-time sign-in code, a reissued access code, the rating invitation.

Declared on this module's `REGISTRY`, which the factory installs with the others (`workflows.registry`).
"""

from __future__ import annotations

import base64
import logging

from flask import current_app

from cases import consumers, receipts
from cases.db import db
from cases.models import Appeal, PhoneCode
from workflows import notifications, registry
from workflows.notifications import SMS, Message

log = logging.getLogger(__name__)

REGISTRY = registry.Registry()
_ACCESS_CODE = b"reissued-access-code"


@REGISTRY.job("send_phone_code")
def send_phone_code(code_id: int) -> int:
    """SMS the one-time code (to a number with appeals, or for filing); the sealed copy is then forgotten."""
    row = db.session.get(PhoneCode, code_id)
    secret = current_app.config["SECRET_KEY"]
    code = consumers.code_to_send(row, secret) if row is not None else None
    if row is None or code is None:
        return 0  # replaced, used, expired or already sent
    sent = 0
    if consumers.should_send(row):
        text = (
            f"【{notifications.short_name()}】您的验证码是{code}，{consumers.CODE_MINUTES}分钟内有效。"
            "如非本人操作请忽略本短信，勿告诉他人。"
        )
        key = f"phone-code-{row.id}-{row.created_at:%Y%m%d%H%M%S%f}"  # a row id may come again after a delete
        notifications.deliver_all([Message(key, SMS, row.phone, "验证码", text, None, code)])
        sent = 1
    row.sealed_code = None
    db.session.commit()
    return sent


def seal_access_code(code: str) -> str:
    """A reissued access code sealed with the app's secret, as the sending job's argument (text)."""
    return base64.b64encode(receipts.seal(current_app.config["SECRET_KEY"], _ACCESS_CODE, code)).decode()


@REGISTRY.job("send_access_code", forget=("sealed",))
def send_access_code(appeal_id: int, sealed: str, event_id: int) -> int:
    """The reissued access code by SMS (and e-mail, as the appellant chose); masked in the notification log."""
    appeal = db.session.get(Appeal, appeal_id)
    code = receipts.unseal(current_app.config["SECRET_KEY"], _ACCESS_CODE, base64.b64decode(sealed))
    if appeal is None or code is None:
        return 0
    grouped = receipts.group_code(code)
    text = (
        f"【{notifications.short_name()}】您的申诉{appeal.case_no}已更换查询码，新查询码：{grouped}。"
        "原查询码已失效。请妥善保存，勿告诉他人。"
    )
    messages = notifications.to_appellant(
        appeal, f"access-code-{event_id}", "", f"申诉{appeal.case_no}新查询码", text, grouped
    )
    notifications.deliver_all(messages)
    return len(messages)


@REGISTRY.task("purge_consumer_sessions")
def purge_consumer_sessions() -> dict[str, int]:
    """Delete the consumers' expired sessions and one-time codes."""
    gone = consumers.purge()
    db.session.commit()
    return {"deleted": gone}
