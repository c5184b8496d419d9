"""Import of historical records from JSON Lines (one object per line, with a `kind`).

Kinds: operator, subscribers, contact, appeal, material, baseline (docs/BULLETIN.md
describes each). The file is imported in one transaction: every bad line is
reported by number with the reason and then nothing is changed. Importing the
same file again adds nothing (appeals by case number, contacts by a hash of the
line, materials by case, SHA-256 and time, the rest by their natural keys).

The file is streamed; contacts and materials are bulk-inserted in batches and
appeals are replayed through the lifecycle engine (`replay`, passed in by the
caller so `cases` does not import `workflows`) and flushed in batches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import sqlalchemy as sa

from cases import codes, numbering, postgres
from cases.bulletin import Period, PeriodError
from cases.db import db
from cases.models import (
    Appeal,
    Baseline,
    Contact,
    Material,
    Operator,
    SubscriberCount,
)

KINDS = ("operator", "subscribers", "contact", "appeal", "material", "baseline")
# The field names each kind of record may carry (an unknown name is reported with these).
FIELDS = {
    "operator": ("kind", "code", "name", "operator_type", "short_name"),
    "subscribers": ("kind", "operator", "period", "count"),
    "contact": ("kind", "channel", "at", "case_no", "operator", "notes", "topic"),
    "appeal": (
        "kind",
        "case_no",
        "received_at",
        "operator",
        "category",
        "service_type",
        "complainant",
        "service_number",
        "channel",
        "facts",
        "request",
        "events",
    ),
    "complainant": ("name", "phone", "email"),
    "material": ("kind", "case_no", "received_at", "filename", "size", "sha256"),
    "baseline": ("kind", "period", "figures"),
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CASE_NO = re.compile(r"^([A-Z]{1,6})(\d{4})-(\d{1,9})$")
MAX_LISTED_ERRORS = 10_000  # a file of bad lines reports the first ones and counts the rest
# A contact's key is the SHA-256 of its line re-encoded like this (json.dumps(rec, sort_keys=True,
# ensure_ascii=False)); one encoder for the run instead of one per line.
_KEY_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)

# (appeal, events, dry-run check) -> None; events are dicts with action, at (naive UTC) and the action's fields.
Replay = Callable[[Appeal, list[dict[str, Any]]], None]
# (events) -> list of error messages: the lifecycle's check of an event list, without touching the database.
Check = Callable[[list[dict[str, Any]]], list[str]]


class RecordError(ValueError):
    """A line that cannot be imported, with the reason."""


def unknown_fields(rec: dict, expected: Iterable[str], where: str = "") -> None:
    """Refuse a record with a field name outside `expected`, naming the names expected."""
    expected = tuple(expected)
    unknown = [k for k in rec if k not in expected]
    if unknown:
        names = ", ".join(f"{where}{k}" for k in unknown)
        raise RecordError(f"{names}: unknown field; expected {', '.join(expected)}")


_ITEM = re.compile(r"\[\d+\]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_CASE_NUMBER = re.compile(r"\b[A-Z]{1,6}\d{4}-\d+\b")
_NUMBER = re.compile(r"\d+")


def problem_kind(message: str) -> str:
    """A bad line's reason without what is particular to the line (values, numbers, positions), so the
    reasons of a file can be counted by kind."""
    kind = _ITEM.sub("[]", message)
    kind = _QUOTED.sub("…", kind)
    kind = _CASE_NUMBER.sub("<case_no>", kind)
    return _NUMBER.sub("N", kind)[:200]


@dataclass
class ImportReport:
    """What an import did (or would do): lines read, records added and skipped by kind, errors by line."""

    dry_run: bool = False
    lines: int = 0
    added: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    more_errors: int = 0
    problems: Counter = field(default_factory=Counter)  # every bad line's reason, by kind
    without_details: Counter = field(default_factory=Counter)  # events imported without details, by action
    committed: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no line was bad."""
        return not self.errors and not self.more_errors

    def error(self, line: int, message: str) -> None:
        """Note a bad line (the first MAX_LISTED_ERRORS are kept with their reason; every one is counted by kind)."""
        self.problems[problem_kind(message)] += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append((line, message))
        else:
            self.more_errors += 1

    @property
    def records_per_second(self) -> float:
        """Lines read per second."""
        return self.lines / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "dry_run": self.dry_run,
            "lines": self.lines,
            "added": dict(self.added),
            "skipped": dict(self.skipped),
            "errors": [{"line": n, "error": e} for n, e in self.errors],
            "more_errors": self.more_errors,
            "problems": dict(self.problems.most_common()),
            "imported_without_details": dict(self.without_details),
            "committed": self.committed,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
        }


def parse_time(value: Any, name: str) -> dt.datetime:
    """An ISO 8601 time with an offset, as naive UTC."""
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected an ISO 8601 time with offset")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{name}: the time needs an offset (e.g. +08:00): {value!r}")
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def _text(rec: dict, name: str, required: bool = True, max_len: int = 5000) -> str:
    """A text field of a record, checked for type and length."""
    value = rec.get(name)
    if value is None or value == "":
        if required:
            raise RecordError(f"{name}: required")
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected text")
    if len(value) > max_len:
        raise RecordError(f"{name}: longer than {max_len} characters")
    if "\x00" in value:
        raise RecordError(f"{name}: contains a NUL character")
    return value


def _code(rec: dict, name: str, kind: str, default: str | None = None) -> str:
    """A field that must be one of the shared codes of a kind."""
    value = rec.get(name, default)
    if value not in codes.ALL[kind]:
        raise RecordError(f"{name}: unknown {kind} code {value!r}")
    return value


def _count(value: Any, name: str) -> int:
    """A whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise RecordError(f"{name}: expected a whole number >= 0")
    return value


def _period(value: Any) -> str:
    """A period code, normalised (2022h2 -> 2022H2)."""
    try:
        return Period.parse(str(value)).code
    except PeriodError as exc:
        raise RecordError(f"period: {exc}") from None


def _member_of(column, values: list) -> sa.ColumnElement[bool]:
    """`column IN values` (on PostgreSQL `= ANY(array)`, one parameter however many values)."""
    return postgres.member_of(column, values) if postgres.active() else column.in_(values)


def bulk_insert(table: sa.Table, rows: list[dict[str, Any]], with_ids: bool = False) -> None:
    """Insert plain rows in the session's transaction: COPY on PostgreSQL, an executemany INSERT elsewhere.

    With `with_ids` the rows carry their primary key (taken from the table's sequence beforehand).
    """
    if postgres.active():
        postgres.copy_rows(table, rows, with_ids)
    else:
        db.session.execute(sa.insert(table), rows)


class _Importer:
    """One run over one file; see `import_records`."""

    def __init__(self, report: ImportReport, replay: Replay, check: Check, batch_size: int):
        """Start a run: the known operators, empty buffers."""
        self.report = report
        self.replay = replay
        self.check = check
        self.batch_size = batch_size
        self.applying = True
        self.operators: dict[str, tuple[int, str]] = {
            code: (op_id, kind)
            for op_id, code, kind in db.session.execute(sa.select(Operator.id, Operator.code, Operator.operator_type))
        }
        self.case_nos_in_file: dict[str, int] = {}
        self.appeals: list[tuple[int, dict[str, Any]]] = []
        self.contacts: list[tuple[int, dict[str, Any]]] = []
        self.materials: list[tuple[int, dict[str, Any]]] = []
        self.case_years: dict[tuple[str, int], int] = {}

    # -- per line ---------------------------------------------------------------------------------------------

    def line(self, number: int, raw: str) -> None:
        """Validate one line and buffer or apply it; a bad line is reported and skipped."""
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RecordError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(rec, dict):
            raise RecordError("expected a JSON object")
        kind = rec.get("kind")
        if kind not in KINDS:
            raise RecordError(f"kind: expected one of {', '.join(KINDS)}")
        unknown_fields(rec, FIELDS[kind])
        getattr(self, f"_{kind}")(number, rec)

    def _operator_id(self, code: Any, required: bool = True) -> int | None:
        """The id of an operator code known to the database or declared earlier in the file."""
        if code in (None, "") and not required:
            return None
        found = self.operators.get(code) if isinstance(code, str) else None
        if found is None:
            raise RecordError(f"operator: unknown operator {code!r}")
        return found[0]

    def _operator(self, number: int, rec: dict) -> None:
        """An operator: added when its code is new."""
        code = _text(rec, "code", max_len=32)
        name = _text(rec, "name", max_len=200)
        kind = _code(rec, "operator_type", "operator_type")
        if code in self.operators:
            self.report.skipped["operator"] += 1
            return
        short = _text(rec, "short_name", required=False, max_len=100)
        op = Operator(code=code, name=name, short_name=short, operator_type=kind)
        if self.applying:
            db.session.add(op)
            db.session.flush()
            self.operators[code] = (op.id, kind)
        else:
            self.operators[code] = (0, kind)
        self.report.added["operator"] += 1

    def _subscribers(self, number: int, rec: dict) -> None:
        """An operator's subscriber count for a period: added or replaced."""
        op_id = self._operator_id(rec.get("operator"))
        period = _period(rec.get("period"))
        count = _count(rec.get("count"), "count")
        if not self.applying:
            return
        row = db.session.scalar(
            sa.select(SubscriberCount).where(SubscriberCount.operator_id == op_id, SubscriberCount.period == period)
        )
        if row is not None and row.count == count:
            self.report.skipped["subscribers"] += 1
            return
        if row is None:
            db.session.add(SubscriberCount(operator_id=op_id, period=period, count=count))
        else:
            row.count = count
        self.report.added["subscribers"] += 1

    def _baseline(self, number: int, rec: dict) -> None:
        """A period's published figures: added or replaced."""
        period = _period(rec.get("period"))
        figures = rec.get("figures")
        if not isinstance(figures, dict) or not figures:
            raise RecordError("figures: expected an object of figures")
        for name, value in figures.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 2**53:
                raise RecordError(f"figures.{name}: expected a number >= 0")
        if not self.applying:
            return
        row = db.session.scalar(sa.select(Baseline).where(Baseline.period == period))
        if row is not None and row.figures == figures:
            self.report.skipped["baseline"] += 1
            return
        if row is None:
            db.session.add(Baseline(period=period, figures=figures))
        else:
            row.figures = figures
        self.report.added["baseline"] += 1

    def _contact(self, number: int, rec: dict) -> None:
        """A consultation, visit or follow-up call, buffered for a bulk insert."""
        channel = _code(rec, "channel", "contact_channel")
        at = parse_time(rec.get("at"), "at")
        case_no = rec.get("case_no") or None
        if case_no is not None and not isinstance(case_no, str):
            raise RecordError("case_no: expected text")
        row = {
            "channel": channel,
            "at": at,
            "operator_id": self._operator_id(rec.get("operator"), required=False),
            "notes": _text(rec, "notes", required=False),
            "topic": _text(rec, "topic", required=False, max_len=200),
            "legacy_key": hashlib.sha256(_KEY_JSON.encode(rec).encode()).hexdigest(),
            "case_no": case_no,
        }
        self.contacts.append((number, row))
        if len(self.contacts) >= self.batch_size:
            self.flush()

    def _material(self, number: int, rec: dict) -> None:
        """A legacy material item, buffered for a bulk insert."""
        case_no = _text(rec, "case_no", max_len=20)
        sha = _text(rec, "sha256", max_len=64).lower()
        if not _SHA256.match(sha):
            raise RecordError("sha256: expected 64 hexadecimal characters")
        row = {
            "case_no": case_no,
            "received_at": parse_time(rec.get("received_at"), "received_at"),
            "original_name": _text(rec, "filename", max_len=255),
            "size": _count(rec.get("size"), "size"),
            "sha256": sha,
        }
        self.materials.append((number, row))
        if len(self.materials) >= self.batch_size:
            self.flush()

    def _appeal(self, number: int, rec: dict) -> None:
        """An appeal with its events, checked against the lifecycle table and buffered for replay."""
        case_no = _text(rec, "case_no", max_len=20)
        if case_no in self.case_nos_in_file:
            raise RecordError(f"case_no: {case_no} already appears on line {self.case_nos_in_file[case_no]}")
        received_at = parse_time(rec.get("received_at"), "received_at")
        person = rec.get("complainant")
        if not isinstance(person, dict):
            raise RecordError("complainant: expected an object with name and phone")
        unknown_fields(person, FIELDS["complainant"], "complainant.")
        name = _text(person, "name", max_len=100)
        phone = _text(person, "phone", max_len=32)
        raw_events = rec.get("events") or []
        if not isinstance(raw_events, list):
            raise RecordError("events: expected a list")
        events, last = [], received_at
        for i, ev in enumerate(raw_events, 1):
            if not isinstance(ev, dict) or not isinstance(ev.get("action"), str):
                raise RecordError(f"events[{i}]: expected an object with an action")
            at = parse_time(ev.get("at"), f"events[{i}].at")
            if at < last:
                raise RecordError(f"events[{i}]: earlier than the step before it")
            last = at
            data = {k: v for k, v in ev.items() if k not in ("action", "at", "terms")}
            terms = ev.get("terms")
            if terms is not None:
                if not isinstance(terms, dict):
                    raise RecordError(f"events[{i}].terms: expected an object")
                data.update(terms)
            # The names given, for the lifecycle's check against the fields the action takes.
            given = {"": [k for k in ev if k not in ("action", "at", "terms")], "terms": list(terms or ())}
            events.append({"action": ev["action"], "at": at, "data": data, "given": given})
        problems = self.check(events)
        if problems:
            raise RecordError("; ".join(problems))
        fields = {
            "case_no": case_no,
            "received_at": received_at,
            "operator_id": self._operator_id(rec.get("operator")),
            "category": _code(rec, "category", "category"),
            "service_type": _code(rec, "service_type", "service_type"),
            "channel": _code(rec, "channel", "intake_channel", default="phone"),
            "complainant_name": name,
            "phone": phone,
            "email": _text(person, "email", required=False, max_len=200),
            "service_number": _text(rec, "service_number", required=False, max_len=40) or phone,
            "facts": _text(rec, "facts", required=False),
            "request": _text(rec, "request", required=False),
        }
        self.case_nos_in_file[case_no] = number
        self.appeals.append((number, {"fields": fields, "events": events}))
        if len(self.appeals) >= self.batch_size:
            self.flush()

    # -- batches ----------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the buffered appeals, then contacts and materials (which may refer to those appeals)."""
        if not self.applying:
            self.appeals.clear()
            self.contacts.clear()
            self.materials.clear()
            return
        try:
            self._flush_appeals()
            self._flush_contacts()
            self._flush_materials()
            db.session.flush()
            db.session.expunge_all()
        except Exception as exc:  # the database refused a row (or the driver a value): all or nothing
            db.session.rollback()
            self.applying = False
            self.report.error(0, f"the database refused a batch: {exc.__class__.__name__}: {exc}"[:500])

    def _case_ids(self, case_nos: Iterable[str]) -> dict[str, int]:
        """Case number -> appeal id for the numbers present in the database (this transaction included)."""
        wanted = list(set(case_nos))
        found: dict[str, int] = {}
        for i in range(0, len(wanted), 1000):
            chunk = wanted[i : i + 1000]
            found.update(
                db.session.execute(sa.select(Appeal.case_no, Appeal.id).where(_member_of(Appeal.case_no, chunk))).all()
            )
        return found

    def _flush_appeals(self) -> None:
        """Replay the buffered appeals through the engine and flush them in one go."""
        if not self.appeals:
            return
        existing = self._case_ids(r["fields"]["case_no"] for _, r in self.appeals)
        db.session.flush()  # what came before (subscribers, baselines): the batch is all that is pending below
        copy = postgres.active()
        built: list[Appeal] = []
        with db.session.no_autoflush:
            for _number, rec in self.appeals:
                f = rec["fields"]
                if f["case_no"] in existing:
                    self.report.skipped["appeal"] += 1
                    continue
                appeal = Appeal(**f)
                db.session.add(appeal)
                self.replay(appeal, rec["events"])
                for event in appeal.events:
                    if event.details.get("imported_without_details"):
                        self.report.without_details[event.action] += 1
                built.append(appeal)
                self.report.added["appeal"] += 1
                m = _CASE_NO.match(f["case_no"])
                if m:
                    key = (m.group(1), int(m.group(2)))
                    self.case_years[key] = max(self.case_years.get(key, 0), int(m.group(3)))
        self.appeals.clear()
        if copy and built:
            postgres.write_replayed(built)
        else:
            db.session.flush()

    def _flush_contacts(self) -> None:
        """Insert the buffered contacts that are not there yet."""
        if not self.contacts:
            return
        keys = [r["legacy_key"] for _, r in self.contacts]
        known = set(db.session.scalars(sa.select(Contact.legacy_key).where(_member_of(Contact.legacy_key, keys))))
        case_ids = self._case_ids(r["case_no"] for _, r in self.contacts if r["case_no"])
        rows = []
        for number, r in self.contacts:
            if r["legacy_key"] in known:
                self.report.skipped["contact"] += 1
                continue
            case_no = r.pop("case_no")
            if case_no is not None and case_no not in case_ids:
                self.report.error(number, f"case_no: no appeal {case_no} (in the database or earlier in the file)")
                continue
            r["appeal_id"] = case_ids.get(case_no) if case_no else None
            known.add(r["legacy_key"])
            rows.append(r)
        if rows:
            bulk_insert(Contact.__table__, rows)
        self.report.added["contact"] += len(rows)
        self.contacts.clear()

    def _flush_materials(self) -> None:
        """Insert the buffered materials that are not there yet."""
        if not self.materials:
            return
        case_ids = self._case_ids(r["case_no"] for _, r in self.materials)
        ids = list(set(case_ids.values()))
        known: set[tuple[int, str, dt.datetime]] = set()
        for i in range(0, len(ids), 1000):
            known.update(
                db.session.execute(
                    sa.select(Material.appeal_id, Material.sha256, Material.received_at).where(
                        _member_of(Material.appeal_id, ids[i : i + 1000])
                    )
                ).all()
            )
        rows = []
        for number, r in self.materials:
            appeal_id = case_ids.get(r["case_no"])
            if appeal_id is None:
                self.report.error(number, f"case_no: no appeal {r['case_no']} (in the database or earlier in the file)")
                continue
            key = (appeal_id, r["sha256"], r["received_at"])
            if key in known:
                self.report.skipped["material"] += 1
                continue
            known.add(key)
            rows.append(
                {
                    "appeal_id": appeal_id,
                    "stored_name": None,
                    "original_name": r["original_name"],
                    "size": r["size"],
                    "sha256": r["sha256"],
                    "received_at": r["received_at"],
                    "source": "legacy",
                    "mime_type": "",
                }
            )
        if rows:
            bulk_insert(Material.__table__, rows)
        self.report.added["material"] += len(rows)
        self.materials.clear()

    def finish_case_numbers(self) -> None:
        """Move each year's case-number sequence past the imported numbers, so new cases never collide."""
        for (_prefix, year), last in self.case_years.items():
            numbering.move_past(year, last)


def import_records(
    stream: IO[str], replay: Replay, check: Check, dry_run: bool = False, batch_size: int = 2000
) -> ImportReport:
    """Import a JSON Lines stream in one transaction; with errors or `dry_run` nothing is kept."""
    started = time.perf_counter()
    report = ImportReport(dry_run=dry_run)
    db.session.rollback()
    run = _Importer(report, replay, check, batch_size)
    for number, raw in enumerate(stream, 1):
        report.lines = number
        if not raw.strip():
            continue
        try:
            run.line(number, raw)
        except RecordError as exc:
            report.error(number, str(exc))
    run.flush()
    if run.applying:
        run.finish_case_numbers()
    report.errors.sort(key=lambda e: e[0])
    if not report.ok or dry_run:
        db.session.rollback()
    else:
        db.session.commit()
        report.committed = True
    report.seconds = time.perf_counter() - started
    return report
