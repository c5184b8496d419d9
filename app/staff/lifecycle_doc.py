"""`docs/lifecycle.md`, generated from the lifecycle table: the diagram and the table of transitions.

`flask lifecycle diagram` writes the file; `flask lifecycle diagram --check` fails when it is out of date.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from cases import codes
from workflows import lifecycle

ROOT = Path(__file__).resolve().parent.parent.parent
DOC = ROOT / "docs" / "lifecycle.md"

lifecycle_cli = AppGroup("lifecycle", help="The case lifecycle table.")


def _field(f: lifecycle.Field) -> str:
    """A field of a transition, as the document shows it."""
    need = "" if f.required else ", optional"
    return f"`{f.name}` ({f.kind}{need})"


def _clocks(t: lifecycle.Transition) -> str:
    """What a transition does to the deadlines, in words."""
    parts = []
    for verb, kinds in (("starts", t.starts), ("stops", t.stops), ("pauses", t.pauses), ("resumes", t.resumes)):
        if kinds:
            parts.append(f"{verb} {', '.join(kinds)}")
    return "; ".join(parts) or "—"


def _also(t: lifecycle.Transition) -> str:
    """What a transition does besides the change of state, in words (the row's declarations)."""
    parts = [f"writes {t.records.replace('_', ' ')}"] if t.records else []
    parts += [f"sets {name}" for name in t.stamps] + [f"clears {name}" for name in t.clears]
    parts += [f"tells the appellant: {t.message}"] if t.message else []
    parts += ["checks the terms"] if t.checks_terms else []
    parts += ["notifies the appellant"] if t.notify else []
    parts += [f"pushes `{t.webhook}` to the operator"] if t.webhook else []
    return "; ".join(parts) or "—"


def render_markdown() -> str:
    """The whole document, from `workflows.lifecycle` (states, Diagram, TRANSITIONS, DEADLINES)."""
    out = [
        "# The case lifecycle",
        "",
        "<!-- Generated from workflows/lifecycle.py by `flask lifecycle diagram`; do not edit by hand. -->",
        "",
        "Every change of a case's state goes through `workflows.engine.perform`, which applies one row of",
        "`workflows.lifecycle.TRANSITIONS`. An action not listed for a state is refused (409); a role not",
        "listed for a row is refused (403).",
        "",
        "## States",
        "",
        "| state | 中文 | English | open |",
        "| --- | --- | --- | --- |",
    ]
    for s in lifecycle.STATES.values():
        out.append(f"| `{s.code}` | {s.zh} | {s.en} | {'yes' if s.open else 'no'} |")
    out += ["", "## Diagram", "", "```mermaid", lifecycle.Diagram.from_table().text().rstrip("\n"), "```", ""]
    out += [
        "## Transitions",
        "",
        "| action | 中文 | from | to | roles | fields | deadlines | outcome | also |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in lifecycle.TRANSITIONS:
        out.append(
            "| `{a}` | {zh} | {src} | `{dst}` | {roles} | {fields} | {clocks} | {outcome} | {also} |".format(
                a=t.action,
                zh=codes.name("action", t.action),
                src=", ".join(f"`{s}`" for s in sorted(t.sources)),
                dst=t.target,
                roles=", ".join(sorted(t.roles)),
                fields=", ".join(_field(f) for f in t.fields) or "—",
                clocks=_clocks(t),
                outcome=f"`{t.outcome}`" if t.outcome else "—",
                also=_also(t),
            )
        )
    out += [
        "",
        "## Deadlines",
        "",
        "| clock | 中文 | English | default | counted in | setting |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for d in lifecycle.DEADLINES.values():
        days = lifecycle.DEADLINE_DEFAULTS[d.amount_setting]
        working = lifecycle.DEADLINE_DEFAULTS[d.working_setting]
        unit = "working days (official calendar)" if working else "calendar days"
        out.append(f"| `{d.kind}` | {d.zh} | {d.en} | {days} | {unit} | `{d.amount_setting}` |")
    out += [
        "",
        "A deadline ends at 23:59:59 local time (`TIME_ZONE`, Asia/Shanghai by default) of its last day.",
        "A paused clock (while materials are awaited) is moved later by the days it waited, counted the same way",
        "as the clock itself.",
        "",
    ]
    return "\n".join(out)


@lifecycle_cli.command("diagram")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=DOC, show_default=True)
@click.option("--check", is_flag=True, help="fail when the file differs from the table instead of writing it")
def diagram_command(output: Path, check: bool) -> None:
    """Write docs/lifecycle.md from the lifecycle table (or check that it is up to date)."""
    text = render_markdown()
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            raise click.ClickException(f"{output} is out of date: run `flask lifecycle diagram`")
        click.echo(f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")
