"""The permission table: which roles may use each route (by endpoint name).

A route missing from this table is refused to everyone (and the permission test
fails), so every new route must declare who may use it here. Lifecycle actions
have their roles in `workflows.lifecycle.TRANSITIONS`; routes that perform an
action check both.
"""

from __future__ import annotations

from cases.states import ADMIN, CASEWORK, CLERK, MEDIATOR, OPERATOR, STAFF, SUPERVISOR, SUPERVISORS

PUBLIC = "public"  # anyone, signed in or not (consumer routes check the access code themselves)
# A consumer with a verified phone: the view checks the consumer's own bearer token (cases.consumers) and answers
# 401 without one; a staff sign-in or staff token gives no access.
CONSUMER = "consumer"
ADMINS = frozenset({ADMIN})
OPERATORS = frozenset({OPERATOR})
SIGNED_IN = STAFF | OPERATORS

ROUTES: dict[str, frozenset[str] | str] = {
    "static": PUBLIC,
    # auth
    "auth.login": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.end_sessions": SIGNED_IN,
    # public portal
    "public.index": PUBLIC,
    "public.set_language": PUBLIC,
    "public.toggle_elder_mode": PUBLIC,
    "public.eligibility_check": PUBLIC,
    "public.new_appeal": PUBLIC,
    "public.receipt": PUBLIC,
    "public.track": PUBLIC,
    "public.case_status": PUBLIC,
    "public.add_materials": PUBLIC,
    "public.withdraw": PUBLIC,
    "public.forget_case": PUBLIC,
    "public.report_terms_not_done": PUBLIC,
    # phone sign-in and 我的申诉 (the pages check the verified session themselves; cases.consumers)
    "public.consumer_sign_in": PUBLIC,
    "public.consumer_verify": PUBLIC,
    "public.my_appeals": PUBLIC,
    "public.my_case": PUBLIC,
    "public.my_new_access_code": PUBLIC,
    "public.my_notify_by": PUBLIC,
    "public.consumer_sign_out": PUBLIC,
    "public.rate_case": PUBLIC,
    # staff console
    "staff.index": STAFF,
    "staff.queue": STAFF,
    "staff.search": STAFF,
    "staff.queue_export": STAFF,
    "staff.search_export": STAFF,
    "staff.queue_export_full": frozenset({SUPERVISOR}),
    "staff.search_export_full": frozenset({SUPERVISOR}),
    "staff.dashboard": SUPERVISORS,
    "staff.dashboard_cases": SUPERVISORS,
    "staff.audit_log": SUPERVISORS,
    "staff.case_detail": STAFF,
    "staff.case_action": CASEWORK,
    "staff.case_note": CASEWORK,
    "staff.case_reveal": CASEWORK,
    "staff.case_assign": frozenset({SUPERVISOR}),
    "staff.case_legal_hold": frozenset({SUPERVISOR}),
    "staff.case_take": frozenset({MEDIATOR}),
    "staff.case_mark_repeat": frozenset({CLERK, SUPERVISOR}),
    "staff.case_forward_reply": frozenset({MEDIATOR, SUPERVISOR}),
    "staff.material_download": CASEWORK,
    "staff.material_preview": CASEWORK,
    "staff.material_inline": CASEWORK,
    "staff.material_record": CASEWORK,
    "staff.admin_users": ADMINS,
    "staff.admin_user_new": ADMINS,
    "staff.admin_user_active": ADMINS,
    "staff.admin_user_password": ADMINS,
    "staff.admin_user_sessions": ADMINS,
    "staff.admin_tokens": ADMINS,
    "staff.admin_token_new": ADMINS,
    "staff.admin_token_revoke": ADMINS,
    "staff.admin_calendar": ADMINS,
    "staff.admin_calendar_add": ADMINS,
    "staff.admin_calendar_delete": ADMINS,
    "staff.admin_webhooks": ADMINS,
    "staff.admin_webhook_new": ADMINS,
    "staff.admin_webhook_detail": ADMINS,
    "staff.admin_webhook_rotate": ADMINS,
    "staff.admin_webhook_remove": ADMINS,
    "staff.admin_webhook_resume": ADMINS,
    "staff.admin_webhook_redeliver": ADMINS,
    "auth.change_password": SIGNED_IN,
    # operator portal
    "operator.index": OPERATORS,
    "operator.case_detail": OPERATORS,
    "operator.reveal_phone": OPERATORS,
    "operator.reply": OPERATORS,
    "operator.sign_referral": OPERATORS,
    "operator.confirm_instruction": OPERATORS,
    "operator.propose_settlement": OPERATORS,
    "operator.terms_done": OPERATORS,
    "operator.material_download": OPERATORS,
    # contacts and follow-up calls (staff blueprint)
    "staff.contacts_list": CASEWORK,
    "staff.contact_new": frozenset({CLERK, SUPERVISOR}),
    "staff.contact_detail": CASEWORK,
    "staff.contact_convert": frozenset({CLERK, SUPERVISOR}),
    "staff.case_calls_page": CASEWORK,
    "staff.terms_unperformed": CASEWORK,
    "staff.calls_due": CASEWORK,
    # staff and operator API
    "api.cases_list": SIGNED_IN,
    "api.case_detail": SIGNED_IN,
    "api.case_action": SIGNED_IN,
    "api.case_settlement_proposal": OPERATORS,
    "api.case_terms_done": OPERATORS,
    "api.operator_referrals": OPERATORS,
    "api.operator_reply": OPERATORS,
    "api.operator_materials": OPERATORS,
    "api.operator_events": OPERATORS,
    "api.token_rotate": SIGNED_IN,
    "api.contacts_list": STAFF,
    "api.contacts_create": CASEWORK,
    # statistics, bulletin and background jobs
    "public.bulletin_index": PUBLIC,
    "public.bulletin_period": PUBLIC,
    "public.bulletin_export": PUBLIC,
    "staff.statistics": STAFF,
    "staff.statistics_export": STAFF,
    "staff.statistics_drilldown": STAFF,
    "staff.statistics_weeks_csv": SUPERVISORS,
    "staff.statistics_satisfaction": STAFF,
    "staff.statistics_satisfaction_cases": STAFF,
    "staff.admin_notifications": ADMINS,
    "staff.alerts_page": SUPERVISORS,
    "staff.alert_detail": SUPERVISORS,
    "staff.alert_acknowledge": frozenset({SUPERVISOR}),
    "staff.bulletin_revisions": STAFF,
    "staff.bulletin_period": STAFF,
    "staff.bulletin_build": SUPERVISORS,
    "staff.bulletin_publish": SUPERVISORS,
    "staff.bulletin_publish_confirm": SUPERVISORS,
    "staff.bulletin_preview_pdf": SUPERVISORS,
    "staff.baselines": SUPERVISORS,
    "staff.subscribers": SUPERVISORS,
    "staff.jobs_page": SUPERVISORS,
    "staff.job_retry": SUPERVISORS,
    "staff.rq_requeue": SUPERVISORS,
    "api.bulletin_periods": PUBLIC,
    "api.bulletin_published": PUBLIC,
    "api.bulletin_revisions": STAFF,
    "api.bulletin_rollup": SUPERVISORS,
    "api.bulletin_publish": SUPERVISORS,
    "api.statistics_range": STAFF,
    # api (public part)
    "api.openapi_document": PUBLIC,
    "api.health": PUBLIC,
    "api.ready": PUBLIC,
    "api.public_operators": PUBLIC,
    "api.public_categories": PUBLIC,
    "api.public_file_appeal": PUBLIC,
    "api.public_appeal": PUBLIC,
    "api.public_add_material": PUBLIC,
    "api.public_withdraw": PUBLIC,
    "api.public_rate": PUBLIC,
    # the consumer's phone sign-in: asking for a code and trading it for a consumer token are open to anyone
    "api.consumer_verification": PUBLIC,
    "api.consumer_sessions": PUBLIC,
    "api.consumer_appeals": CONSUMER,
    "api.consumer_new_access_code": CONSUMER,
}


def roles_for(endpoint: str) -> frozenset[str] | str | None:
    """The roles allowed on an endpoint, PUBLIC, or None when the table has no rule."""
    return ROUTES.get(endpoint)
