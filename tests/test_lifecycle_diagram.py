"""docs/lifecycle.md is generated from the lifecycle table and must agree with it."""

from __future__ import annotations

import re

from app.staff.lifecycle_doc import DOC, render_markdown
from workflows import lifecycle


def test_the_committed_document_is_exactly_what_the_table_generates():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), "run `flask lifecycle diagram` and commit the file"


def test_every_edge_and_every_row_of_the_table_is_in_the_document():
    text = DOC.read_text(encoding="utf-8")
    diagram = re.search(r"```mermaid\n(.*?)```", text, re.S).group(1)
    for t in lifecycle.TRANSITIONS:
        for source in t.sources:
            edge = "[*] --> received: submit" if source == "new" else f"{source} --> {t.target}: {t.action}"
            assert edge in diagram, edge
        row = next(line for line in text.splitlines() if line.startswith(f"| `{t.action}` |") and t.target in line)
        assert ", ".join(sorted(t.roles)) in row
    for state in lifecycle.STATES:
        assert f"| `{state}` |" in text


def test_every_state_can_be_reached_from_a_new_appeal():
    edges = {(s, t.target) for t in lifecycle.TRANSITIONS for s in t.sources}
    reached, frontier = {"new"}, ["new"]
    while frontier:
        here = frontier.pop()
        for source, target in edges:
            if source == here and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert set(lifecycle.STATES) <= reached


def test_the_cli_writes_the_document_and_check_fails_when_it_is_stale(runner, tmp_path):
    out = tmp_path / "lifecycle.md"
    result = runner.invoke(args=["lifecycle", "diagram", "--output", str(out)])
    assert result.exit_code == 0 and out.read_text(encoding="utf-8") == render_markdown()
    assert runner.invoke(args=["lifecycle", "diagram", "--output", str(out), "--check"]).exit_code == 0
    out.write_text(render_markdown().replace("reopen", "reopen_by_anyone"), encoding="utf-8")
    stale = runner.invoke(args=["lifecycle", "diagram", "--output", str(out), "--check"])
    assert stale.exit_code != 0 and "out of date" in stale.output
