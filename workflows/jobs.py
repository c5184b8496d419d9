"""The background jobs: notifications of case events, deadline sweep, outbox sweep and the statistics rollup.

Outbox jobs (`@REGISTRY.job`) are recorded with the change that needs them; periodic
tasks (`@REGISTRY.task`) are enqueued by `flask scheduler`. This module is the top of `workflows/`: nothing
below imports it; the application factory installs `REGISTRY` (`workflows.registry`). Every one takes ids or plain
values, runs in its own app context and is idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app

from cases import alerts, bulletin, clock, codes, ratings, receipts, retention, trends
from cases import webhooks as cases_webhooks
from cases.db import db
from cases.models import Alert, Appeal, CaseEvent, Deadline, FilingReceipt, OutboxJob, User, WebhookEndpoint, utcnow
from workflows import calendar, engine, lifecycle, notifications, outbox, queue, registry, webhooks
from workflows.notifications import EMAIL, Message

log = logging.getLogger(__name__)

REGISTRY = registry.Registry()  # installed on the app by the factory
REMIND_BEFORE = dt.timedelta(days=2)

# What the consumer is told at each step (the case number and the state, no other personal data).
CONSUMER_TEXT = {
    "accept": "您的申诉{case_no}已受理，我们将转交被申诉企业处理。",
    "reject": "您的申诉{case_no}不予受理，理由：{ground}。",
    "refer": "您的申诉{case_no}已转交被申诉企业处理，企业将与您联系。",
    "request_materials": "您的申诉{case_no}需要补充材料，请登录申诉网站查看并补充。",
    "settle": "您的申诉{case_no}已达成和解，企业将按约定履行。",
    "acknowledge": "您的申诉{case_no}已办结（知晓）。",
    "disagree": "您的申诉{case_no}已办结。",
    "end_mediation": "您的申诉{case_no}调解不成，已办结。您可依法申请仲裁或向人民法院提起诉讼。",
    "withdraw": "您的申诉{case_no}已撤回。",
    "forward_reply": "您的申诉{case_no}，被申诉企业已答复，本中心已将答复内容转达，请登录申诉网站查看。",
}
RATING_INVITATION = "欢迎对本次处理进行满意度评价：{url}（用手机号验证后在“我的申诉”中评价）。"
RATED_STATES = ratings.RATEABLE_STATES


def _local(at: dt.datetime) -> str:
    """A stored UTC time as Asia/Shanghai text."""
    return clock.to_local(at).strftime("%Y-%m-%d %H:%M")


def _consumer_messages(event: CaseEvent, appeal: Appeal) -> list[Message]:
    """The SMS and e-mail telling the appellant about a step, if the step is one they are told of."""
    template = CONSUMER_TEXT.get(event.action)
    if template is None:
        return []
    ground = codes.name("rejection_ground", (event.details or {}).get("ground") or appeal.rejection_ground)
    text = f"【{notifications.short_name()}】" + template.format(case_no=appeal.case_no, ground=ground)
    if event.to_state in RATED_STATES:  # the case ended: invite the appellant to rate the handling (cases.ratings)
        text += RATING_INVITATION.format(url=current_app.config.get("PUBLIC_URL", "").rstrip("/") + "/my")
    return notifications.to_appellant(appeal, f"event-{event.id}", "-consumer", f"申诉{appeal.case_no}办理进展", text)


def _liaisons(operator_id: int) -> list[User]:
    """The active liaison users of an operator who have an e-mail address."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role == lifecycle.OPERATOR, User.operator_id == operator_id, User.active, User.email != "")
            .order_by(User.id)
        )
    )


def _responsible_staff(appeal: Appeal) -> list[User]:
    """The assignee if it can be reached by e-mail, else every active supervisor with an e-mail address."""
    if appeal.assignee is not None and appeal.assignee.active and appeal.assignee.email:
        return [appeal.assignee]
    return list(
        db.session.scalars(
            sa.select(User).where(User.role == lifecycle.SUPERVISOR, User.active, User.email != "").order_by(User.id)
        )
    )


def _tell_responsible_staff(appeal: Appeal, key: str, subject: str, body: str) -> int:
    """E-mail the person responsible for a case (the assignee, else every supervisor), once per `key` and user."""
    messages = [
        Message(f"{key}-user-{u.id}", EMAIL, u.email, subject, body, appeal.id) for u in _responsible_staff(appeal)
    ]
    notifications.deliver_all(messages)
    return len(messages)


@REGISTRY.job("notify_case_event")
def notify_case_event(event_id: int) -> int:
    """Tell the consumer (SMS, and e-mail if given) about a step; at referral tell the operator's liaisons too."""
    event = db.session.get(CaseEvent, event_id)
    if event is None:
        return 0
    appeal = event.appeal
    messages = _consumer_messages(event, appeal)
    if event.action == "refer":
        referral_due = appeal.deadline("operator_reply")
        due = _local(referral_due.due_at) if referral_due else ""
        urgent = f"【紧急：{codes.name('urgent_reason', appeal.urgent_reason)}】" if appeal.urgent else ""
        subject = f"{urgent}转办通知：申诉{appeal.case_no}"
        given = [codes.name("instruction", i.kind) for r in appeal.referrals if r.active for i in r.instructions]
        body = (
            f"{current_app.config['CENTRE_NAME']}已将申诉{appeal.case_no}"
            f"（{codes.name('category', appeal.category)}）转办贵单位，请登录企业工作台查看，"
            f"并于{due}前答复。" + (f"随转办下达的指令（请在一个工作日内确认）：{'、'.join(given)}。" if given else "")
        )
        for user in _liaisons(appeal.operator_id):
            messages.append(
                Message(f"event-{event.id}-email-user-{user.id}", EMAIL, user.email, subject, body, appeal.id)
            )
    notifications.deliver_all(messages)
    return len(messages)


@REGISTRY.job("send_receipt")
def send_receipt(receipt_id: int) -> int:
    """The filing receipt by SMS (and e-mail if given): case number, access code, decision date. The code is
    masked in the notification log, and its sealed copy is forgotten once every message is out."""
    record = db.session.get(FilingReceipt, receipt_id)
    code = receipts.notice_code(record, current_app.config["SECRET_KEY"]) if record is not None else None
    if record is None or record.appeal is None or code is None:
        return 0  # already sent (or past the idempotency window)
    appeal = record.appeal
    decision = appeal.deadline("decision")
    grouped = receipts.group_code(code)
    text = (
        f"【{notifications.short_name()}】您的申诉已收到。案件编号：{appeal.case_no}，查询码：{grouped}"
        + (f"，受理决定期限：{_local(decision.due_at)[:10]}" if decision else "")
        + "。凭案件编号和查询码可在申诉网站查询进度，请妥善保存，勿告诉他人。"
    )
    messages = notifications.to_appellant(
        appeal, f"receipt-{record.id}", "", f"申诉{appeal.case_no}回执", text, grouped
    )
    notifications.deliver_all(messages)  # raises when one failed: the job is retried with the code kept
    receipts.notice_sent(record)
    db.session.commit()
    return len(messages)


@REGISTRY.job("notify_terms_reported")
def notify_terms_reported(event_id: int) -> int:
    """Tell the person responsible (assignee, else supervisors) that the appellant says the terms are not done."""
    event = db.session.get(CaseEvent, event_id)
    if event is None:
        return 0
    appeal = event.appeal
    subject = f"申诉人反映企业未履行：申诉{appeal.case_no}"
    body = (
        f"申诉人反映被申诉企业尚未履行申诉{appeal.case_no}的和解条款（第{event.details.get('reports', 1)}次反映）。"
        "请回访申诉人和企业核实，结果记入回访记录。该案已列入“履行未到位”。"
    )
    return _tell_responsible_staff(appeal, f"terms-reported-{event.id}", subject, body)


@REGISTRY.job("notify_overdue")
def notify_overdue(deadline_id: int) -> int:
    """Tell the person responsible (assignee, else supervisors) that a case's deadline has passed."""
    deadline = db.session.get(Deadline, deadline_id)
    if deadline is None:
        return 0
    appeal = deadline.appeal
    kind = lifecycle.DEADLINES[deadline.kind].zh
    subject = f"逾期提醒：申诉{appeal.case_no}"
    body = f"申诉{appeal.case_no}的“{kind}”期限已于{_local(deadline.due_at)}届满，请尽快处理。"
    return _tell_responsible_staff(appeal, f"overdue-{deadline.id}", subject, body)


@REGISTRY.job("remind_operator")
def remind_operator(deadline_id: int) -> int:
    """Remind the operator's liaisons that their reply to a referral is due soon."""
    deadline = db.session.get(Deadline, deadline_id)
    if deadline is None or deadline.stopped_at is not None:
        return 0
    appeal = deadline.appeal
    subject = f"答复期限提醒：申诉{appeal.case_no}"
    body = f"转办贵单位的申诉{appeal.case_no}答复期限为{_local(deadline.due_at)}，请及时登录企业工作台答复。"
    messages = [
        Message(f"remind-{deadline.id}-user-{u.id}", EMAIL, u.email, subject, body, appeal.id)
        for u in _liaisons(appeal.operator_id)
    ]
    notifications.deliver_all(messages)
    return len(messages)


@REGISTRY.job("rollup_period")
def rollup_period(period: str) -> dict[str, Any]:
    """Compute a period's figures and store them as a new revision unless they equal the latest one."""
    p = bulletin.Period.parse(period)
    figures = trends.rollup_figures(p)
    text = bulletin.paragraph(p, figures, current_app.config["CENTRE_NAME"], current_app.config["CENTRE_SHORT_NAME"])
    rev, created = bulletin.store_rollup(p, figures, text)
    db.session.commit()
    return {"period": p.code, "revision": rev.number, "created": created}


@REGISTRY.job("recompute_clocks")
def recompute_clocks(days: list[str], actor_id: int | None = None) -> int:
    """Work the running clocks out again after the official calendar changed on `days` (节假日安排)."""
    actor = db.session.get(User, actor_id) if actor_id else None
    calendar.forget_entered_days()
    moved = engine.recompute_clocks({dt.date.fromisoformat(day) for day in days}, actor)
    db.session.commit()
    return moved


@REGISTRY.task("sweep_deadlines")
def sweep_deadlines(now: dt.datetime | None = None) -> dict[str, int]:
    """Flag open, running deadlines past due (once each, with a job to notify staff); remind operators 2 days ahead."""
    now = now or utcnow()
    running = sa.and_(
        Deadline.stopped_at.is_(None),
        Deadline.paused_at.is_(None),
        Appeal.status.in_(lifecycle.OPEN_STATES),
    )
    overdue = list(
        db.session.execute(
            sa.select(Deadline.id, Deadline.appeal_id, Deadline.kind)
            .join(Appeal, Appeal.id == Deadline.appeal_id)
            .where(running, Deadline.due_at < now, Deadline.flagged_overdue_at.is_(None))
            .order_by(Deadline.id)
            .limit(5000)
        )
    )
    if overdue:
        ids = [d for d, _, _ in overdue]
        db.session.execute(sa.update(Deadline).where(Deadline.id.in_(ids)).values(flagged_overdue_at=now))
        db.session.execute(
            sa.update(Appeal).where(Appeal.id.in_({a for _, a, _ in overdue})).values(overdue=True),
            execution_options={"synchronize_session": False},
        )
        for deadline_id in ids:
            outbox.record("notify_overdue", {"deadline_id": deadline_id}, dedupe_key=f"overdue-{deadline_id}")
        for deadline_id, appeal_id, kind in overdue:
            if kind in ("operator_reply", "instruction"):  # the reply, or an instruction not confirmed in time
                webhooks.emit(db.session.get(Appeal, appeal_id), "referral.overdue", f"overdue-{deadline_id}")
    due_soon = list(
        db.session.scalars(
            sa.select(Deadline.id)
            .join(Appeal, Appeal.id == Deadline.appeal_id)
            .where(
                running,
                Deadline.kind == "operator_reply",
                Deadline.due_at >= now,
                Deadline.due_at < now + REMIND_BEFORE,
            )
            .order_by(Deadline.id)
            .limit(5000)
        )
    )
    reminded = 0
    if due_soon:
        keys = {f"remind-{d}": d for d in due_soon}
        known = set(db.session.scalars(sa.select(OutboxJob.dedupe_key).where(OutboxJob.dedupe_key.in_(keys))))
        for key, deadline_id in keys.items():
            if key not in known:
                outbox.record("remind_operator", {"deadline_id": deadline_id}, dedupe_key=key)
                reminded += 1
    _webhook_reminders(now, running)
    db.session.commit()
    return {"overdue": len(overdue), "reminded": reminded}


def _webhook_reminders(now: dt.datetime, running: sa.ColumnElement[bool]) -> None:
    """`referral.reminder` to the operator's endpoints on the working day before a reply is due (once a clock)."""
    next_working_day = calendar.add_working_days(clock.today(now), 1)
    soon = db.session.execute(
        sa.select(Deadline.id, Deadline.appeal_id)
        .join(Appeal, Appeal.id == Deadline.appeal_id)
        .where(
            running,
            Deadline.kind == "operator_reply",
            Deadline.due_at >= now,
            Deadline.due_at <= calendar.end_of_local_day(next_working_day),
        )
        .order_by(Deadline.id)
        .limit(5000)
    ).all()
    for deadline_id, appeal_id in soon:
        webhooks.emit(db.session.get(Appeal, appeal_id), "referral.reminder", f"reminder-{deadline_id}")


@REGISTRY.task("purge_receipts")
def purge_receipts() -> dict[str, int]:
    """Forget receipts no longer shown (the sealed access codes) and one-time filing keys past their window."""
    done = receipts.purge()
    db.session.commit()
    return done


@REGISTRY.task("purge_webhook_events")
def purge_webhook_events() -> dict[str, int]:
    """Delete the webhook events older than WEBHOOK_KEEP_DAYS whose deliveries have all ended (cases/webhooks.py)."""
    days = cases_webhooks.keep_days(current_app.config)
    done = {"events": 0, "deliveries": 0, "attempts": 0}
    while True:
        batch = cases_webhooks.purge(days)
        db.session.commit()
        for name, count in batch.items():
            done[name] += count
        if not batch["events"]:
            return done


@REGISTRY.task("purge_outbox")
def purge_outbox() -> dict[str, int]:
    """Delete the outbox rows done more than OUTBOX_KEEP_DAYS ago (workflows/outbox.py); failed rows stay."""
    days = int(current_app.config.get("OUTBOX_KEEP_DAYS") or outbox.KEEP_DAYS)
    deleted = 0
    while count := outbox.purge_done(days):
        db.session.commit()
        deleted += count
    db.session.commit()
    return {"deleted": deleted}


@REGISTRY.task("apply_retention")
def apply_retention() -> dict[str, Any]:
    """Anonymise the cases closed longer ago than RETENTION_YEARS, and old consultations (cases/retention.py)."""
    return retention.run()


@REGISTRY.task("sweep_outbox")
def sweep_outbox() -> dict[str, int]:
    """Retry jobs whose worker died; hand over outbox jobs pending for more than a minute (Redis was down)."""
    app = current_app._get_current_object()
    if app.config.get("REDIS_URL"):
        try:
            if abandoned := queue.reap_abandoned(app):
                log.warning("%d job(s) lost with their worker handed to rq's retry policy", abandoned)
        except Exception as exc:  # Redis down: the hand-over below logs it too
            log.warning("could not look for abandoned jobs: %s", exc)
    ids = outbox.stale_pending()
    handed = outbox.hand_over_now(app, ids)
    return {"stale": len(ids), "handed_over": handed}


@REGISTRY.job("notify_alert")
def notify_alert(alert_id: int) -> int:
    """Tell every active supervisor with an e-mail address about a new early warning (once: keyed by alert)."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        return 0
    dimension = "category" if alert.dimension == "category" else "service_type"
    what = codes.name(dimension, alert.key)
    subject = f"异常预警：{alert.operator.display_name} {what}"
    body = (
        f"{alert.operator.display_name}的“{what}”申诉在{alert.week_start.isoformat()}起的一周收到{alert.count}件，"
        f"前12周平均每周{alert.expected}件。请登录工作台“异常预警”查看相关案件并确认。"
    )
    supervisors = db.session.scalars(
        sa.select(User).where(User.role == lifecycle.SUPERVISOR, User.active, User.email != "").order_by(User.id)
    )
    messages = [Message(f"alert-{alert.id}-user-{u.id}", EMAIL, u.email, subject, body) for u in supervisors]
    notifications.deliver_all(messages)
    return len(messages)


def raise_alerts(as_of: dt.date | None = None) -> list[tuple[Alert, bool]]:
    """Scan the last complete week before `as_of` (today), store its alerts and queue one notice per new alert."""
    raised = alerts.scan_last_week(as_of)
    for alert, new in raised:
        if new:
            outbox.record("notify_alert", {"alert_id": alert.id}, dedupe_key=f"alert-{alert.id}")
    db.session.commit()
    return raised


@REGISTRY.task("scan_alerts")
def scan_alerts() -> dict[str, int]:
    """The nightly early-warning scan of last week."""
    raised = raise_alerts()
    return {"found": len(raised), "new": sum(1 for _, new in raised if new)}


@REGISTRY.task("nightly_rollup")
def nightly_rollup() -> dict[str, Any]:
    """Fill the trends' tables with the months and weeks completed since the last run (`trends.refresh_buckets`),
    then roll up the period that yesterday (Asia/Shanghai) belongs to, so a finished half-year gets its last run."""
    trends.refresh_buckets()
    db.session.commit()
    period = bulletin.Period.containing(utcnow() - dt.timedelta(days=1))
    return rollup_period(period.code)


@REGISTRY.job("deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """One signed attempt of a webhook delivery; a failure schedules the next try (`workflows.webhooks`)."""
    return webhooks.deliver(delivery_id)


@REGISTRY.task("retry_webhooks")
def retry_webhooks() -> dict[str, int]:
    """Hand the webhook deliveries whose next try has come to the outbox."""
    return {"retried": webhooks.retry_due()}


@REGISTRY.job("notify_webhook_paused")
def notify_webhook_paused(endpoint_id: int) -> int:
    """Tell every active admin and the operator's liaisons (by e-mail) that an endpoint was paused."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.paused_at is None:
        return 0
    subject = f"Webhook 已暂停：{endpoint.operator.display_name}"
    body = (
        f"向 {endpoint.url} 推送事件已连续失败超过一天，自{_local(endpoint.failing_since)}起未成功，"
        "已暂停推送。未送达的事件会保留，接收方恢复后请管理员在“Webhook”页面恢复推送；"
        "企业也可通过接口读取近30天的事件补齐。"
    )
    admins = db.session.scalars(
        sa.select(User).where(User.role == lifecycle.ADMIN, User.active, User.email != "").order_by(User.id)
    )
    people = [*admins, *_liaisons(endpoint.operator_id)]
    stamp = endpoint.paused_at.isoformat()
    messages = [
        Message(f"webhook-paused-{endpoint.id}-{stamp}-user-{u.id}", EMAIL, u.email, subject, body) for u in people
    ]
    notifications.deliver_all(messages)
    return len(messages)
