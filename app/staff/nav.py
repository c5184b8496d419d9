"""The staff navigation: which links a signed-in user sees, and `has_endpoint` for templates."""

from __future__ import annotations

from flask import current_app, g
from flask_babel import lazy_gettext as _l

from app import permissions
from app.staff import bp
from cases import pii, queues, states
from workflows import engine

# (label, endpoint, url arguments) in the order of the nav bar; endpoints of other areas are shown only once they exist.
NAV = (
    (_l("工作台"), "staff.index", {}),
    (_l("待受理"), "staff.queue", {"name": "new"}),
    (_l("我的案件"), "staff.queue", {"name": "mine"}),
    (_l("等待企业答复"), "staff.queue", {"name": "waiting"}),
    (_l("已超期"), "staff.queue", {"name": "overdue"}),
    (_l("已办结"), "staff.queue", {"name": "closed"}),
    (_l("搜索"), "staff.search", {}),
    (_l("咨询/来访"), ("staff.contacts_list", "staff.contacts"), {}),
    (_l("统计"), ("staff.statistics", "staff.statistics_page"), {}),
    (_l("主管看板"), "staff.dashboard", {}),
    (_l("审计记录"), "staff.audit_log", {}),
    (_l("账户管理"), "staff.admin_users", {}),
    (_l("节假日安排"), "staff.admin_calendar", {}),
    (_l("Webhook 推送"), "staff.admin_webhooks", {}),
)


def has_endpoint(name: str) -> bool:
    """True when the endpoint exists and the signed-in user's role may open it."""
    if name not in current_app.view_functions:
        return False
    allowed = permissions.roles_for(name)
    user = getattr(g, "user", None)
    if allowed == permissions.PUBLIC:
        return True
    return allowed is not None and user is not None and user.role in allowed


def visible_queues() -> list[str]:
    """The queues the signed-in user works from: "my cases" only for the roles cases are assigned to."""
    role = getattr(getattr(g, "user", None), "role", None)
    return [name for name in queues.QUEUES if name != "mine" or role in states.ASSIGNABLE_ROLES]


def nav_links() -> list[tuple[str, str, dict]]:
    """The (label, endpoint, args) links the current user may follow."""
    links = []
    for label, endpoints, args in NAV:
        if args.get("name") and args["name"] not in visible_queues():
            continue
        for endpoint in (endpoints,) if isinstance(endpoints, str) else endpoints:
            if has_endpoint(endpoint):
                links.append((str(label), endpoint, args))
                break
    return links


@bp.app_context_processor
def _nav_context() -> dict:
    """The navigation helpers every template may use."""
    return {"has_endpoint": has_endpoint, "staff_nav_links": nav_links, "state_name": engine.state_name}


bp.add_app_template_filter(pii.mask_email, "mask_email")
