"""The background jobs page (supervisors): the outbox rows by status with their errors, the rq queue, its
workers and failed jobs, and putting a job back on the queue."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from app.extensions import db
from app.staff import bp
from cases.models import OutboxJob
from workflows import outbox, queue

PAGE_SIZE = 100


def _queue_overview() -> tuple[dict[str, Any] | None, str]:
    """The rq overview, or why it is not available."""
    if not current_app.config.get("REDIS_URL"):
        return None, _("未配置 Redis：任务在提交后直接执行。")
    try:
        return queue.overview(current_app._get_current_object()), ""
    except Exception as exc:  # Redis down: the page still shows the outbox
        return None, _("无法连接 Redis：%(error)s", error=exc.__class__.__name__)


@bp.route("/jobs")
def jobs_page():
    """Background jobs by status with their errors, the rq queue, workers and failed jobs."""
    counts = dict(db.session.execute(sa.select(OutboxJob.status, sa.func.count()).group_by(OutboxJob.status)).all())
    status = request.args.get("status") if request.args.get("status") in outbox.STATUSES else None
    q = sa.select(OutboxJob).order_by(OutboxJob.id.desc()).limit(PAGE_SIZE)
    q = q.where(OutboxJob.status == status) if status else q.where(OutboxJob.status != "done")
    overview, redis_note = _queue_overview()
    return render_template(
        "staff/statistics/jobs.html",
        counts=counts,
        status=status,
        rows=db.session.scalars(q).all(),
        overview=overview,
        redis_note=redis_note,
        retry_form=FlaskForm(),
    )


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
def job_retry(job_id: int):
    """Put a failed job back on the queue."""
    if outbox.retry(job_id):
        db.session.commit()
        flash(_("任务 %(id)s 已重新排队。", id=job_id), "success")
    else:
        flash(_("任务 %(id)s 无需重试。", id=job_id), "error")
    return redirect(url_for("staff.jobs_page"))


@bp.route("/jobs/rq/<rq_id>/requeue", methods=["POST"])
def rq_requeue(rq_id: str):
    """Put a job from rq's failed registry back on the queue."""
    ok = bool(current_app.config.get("REDIS_URL")) and queue.requeue_failed(current_app._get_current_object(), rq_id)
    flash(_("已重新排队。") if ok else _("该任务不在失败列表中。"), "success" if ok else "error")
    return redirect(url_for("staff.jobs_page"))
