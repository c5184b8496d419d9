"""Demo accounts (one per role) so a newcomer can try each role at once."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from cases import accounts
from cases.db import db
from cases.models import User

DEMO_ACCOUNTS = (
    ("clerk", "clerk", "受理员（演示）", None),
    ("mediator", "mediator", "调解员（演示）", None),
    ("supervisor", "supervisor", "主管（演示）", None),
    ("admin", "admin", "管理员（演示）", None),
    ("cmcc", "operator", "中国移动吉林联络员（演示）", "cmcc_jl"),
    ("unicom", "operator", "吉林联通联络员（演示）", "unicom_jl"),
)


def seed_demo_accounts() -> list[tuple[str, str, str]]:
    """Create the demo accounts that are absent; returns (username, role, password) of each one created."""
    created = []
    for username, role, name, operator_code in DEMO_ACCOUNTS:
        if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            continue
        password = secrets.token_urlsafe(9)
        accounts.create_user(username, password, role, name, operator_code)
        created.append((username, role, password))
    db.session.commit()
    return created
