"""Helpers shared by the jobs-area tests: a generated half-year of legacy records, Redis, an rq worker."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from cases import importer
from workflows import replay

CST = dt.timezone(dt.timedelta(hours=8))
BASIC_OPS = ("cmcc_jl", "unicom_jl", "telecom_jl", "cbn_jl")
RESALE_OPS = ("mvno_xiaomi", "mvno_jd")

# The seed's figures for 2022H2.
SEED = {
    "phone_consultations": 2364,
    "callbacks": 26416,
    "visits": 5,
    "materials_received": 12965,
    "appeals_accepted": 5567,
    "appeals_accepted_basic": 5508,
    "appeals_accepted_resale_other": 59,
    "settled": 3267,
}
SEED_PARAGRAPH = (
    "2022年下半年,吉林省电信用户申诉受理中心(以下简称省申诉受理中心)共接到用户电话咨询2364件,回访呼出26416件,"
    "接待现场来访5人次,接到用户提交材料12965件,受理用户申诉5567件(其中,基础电信业务企业为5508件,"
    "移动转售等其他企业59件),同比上升13.04%,经省申诉受理中心调解,电信用户与被申诉企业达成和解3267件,"
    "和解率58.69%。"
)


def iso(at: dt.datetime) -> str:
    """A local (UTC+8) time in ISO 8601 with its offset."""
    return at.astimezone(CST).isoformat()


def appeal_line(case_no: str, received: dt.datetime, operator: str, steps: list[tuple[str, dt.datetime, dict]]) -> dict:
    """One `appeal` record with its events."""
    return {
        "kind": "appeal",
        "case_no": case_no,
        "received_at": iso(received),
        "operator": operator,
        "category": "charging",
        "service_type": "mobile",
        "complainant": {"name": "王五", "phone": "13900000000"},
        "facts": "多收费",
        "request": "退费",
        "events": [{"action": a, "at": iso(at), **data} for a, at, data in steps],
    }


def half_year_lines(figures: dict[str, int] = SEED, scale: int = 1):
    """Yield the records of a 2022H2 whose counts are `figures` (times spread over the half-year, Asia/Shanghai)."""
    start = dt.datetime(2022, 7, 1, 8, 0, tzinfo=CST)
    span = dt.timedelta(days=150).total_seconds()
    yield {"kind": "baseline", "period": "2021H2", "figures": {"appeals_accepted": 4925}}
    yield {"kind": "subscribers", "operator": "cmcc_jl", "period": "2022H2", "count": 18_000_000}
    for channel, key in (("phone_consultation", "phone_consultations"), ("callback", "callbacks"), ("visit", "visits")):
        n = figures[key]
        for i in range(n):
            at = start + dt.timedelta(seconds=span * i / n)
            yield {"kind": "contact", "channel": channel, "at": iso(at), "notes": f"{channel} {i}"}
    accepted, basic, settled = figures["appeals_accepted"], figures["appeals_accepted_basic"], figures["settled"]
    materials = figures["materials_received"]
    per_appeal, extra = divmod(materials, accepted)
    day = dt.timedelta(days=1)
    for i in range(accepted):
        received = start + dt.timedelta(seconds=span * i / accepted)
        case_no = f"JL2022-{i + 1:06d}"
        op = BASIC_OPS[i % 4] if i < basic else RESALE_OPS[i % 2]
        steps = [("accept", received + day, {}), ("refer", received + 1.1 * day, {})]
        if i < settled:
            steps += [
                ("reply", received + 3 * day, {"text": "已退费"}),
                ("settle", received + 5 * day, {"terms": {"refund_amount": "20.00", "perform_by": "2023-01-31"}}),
            ]
        elif i % 3 == 0:
            steps += [("reply", received + 3 * day, {"text": "已解释"}), ("acknowledge", received + 4 * day, {})]
        yield appeal_line(case_no, received, op, steps)
        for k in range(per_appeal + (1 if i < extra else 0)):
            yield {
                "kind": "material",
                "case_no": case_no,
                "received_at": iso(received + dt.timedelta(minutes=k + 1)),
                "filename": f"凭证{k + 1}.jpg",
                "size": 1000 + k,
                "sha256": hashlib.sha256(f"{case_no}/{k}".encode()).hexdigest(),
            }
    # a few rejected appeals (counted as received and rejected, not accepted)
    for i in range(20):
        received = start + dt.timedelta(days=i)
        yield appeal_line(
            f"JL2022-{900000 + i}", received, "cmcc_jl", [("reject", received + day, {"ground": "art11_1"})]
        )


def write_jsonl(path: Path, lines) -> Path:
    """Write records as JSON Lines."""
    with path.open("w", encoding="utf-8") as fh:
        for rec in lines:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def import_file(path: Path, dry_run: bool = False) -> importer.ImportReport:
    """Run the importer on a file, with the lifecycle replay."""
    with path.open(encoding="utf-8") as fh:
        return importer.import_records(fh, replay.replay_events, replay.check_events, dry_run=dry_run)


def run_worker(app) -> None:
    """Run the queued jobs on a real rq SimpleWorker in burst mode."""
    from rq import SimpleWorker

    from workflows import queue

    queue.set_worker_app(app)
    q = queue.get_queue(app)
    SimpleWorker([q], connection=q.connection).work(burst=True)
