"""The background jobs are installed by the factory from their modules' registries, and workflows/ imports one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workflows import consumer_jobs, jobs, registry

ROOT = Path(__file__).resolve().parent.parent


def test_the_factory_installs_every_job_and_task(app):
    installed = registry.installed(app)
    assert installed.jobs == jobs.REGISTRY.jobs | consumer_jobs.REGISTRY.jobs
    assert installed.tasks == jobs.REGISTRY.tasks | consumer_jobs.REGISTRY.tasks
    assert {"send_phone_code", "send_access_code"} <= set(installed.jobs)
    assert {"notify_case_event", "send_receipt", "rollup_period"} <= set(installed.jobs)
    assert {"sweep_outbox", "sweep_deadlines", "nightly_rollup"} <= set(installed.tasks)


def test_a_job_declared_twice_is_refused(app):
    other = registry.Registry()
    other.job("notify_case_event")(lambda event_id: 0)
    with pytest.raises(ValueError, match="notify_case_event"):
        registry.install(app, jobs.REGISTRY, other)


def _imports(module: str) -> set[str]:
    """The workflows modules a workflows module imports (anywhere in it, functions included)."""
    tree = ast.parse((ROOT / "workflows" / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "workflows":
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workflows."):
            found.add(node.module.split(".")[1])
    return found


def test_workflows_imports_point_one_way():
    modules = [p.stem for p in (ROOT / "workflows").glob("*.py") if p.stem != "__init__"]
    graph = {m: _imports(m) & set(modules) for m in modules}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    circles = sorted(m for m in modules if reaches(m, m, {m}))
    assert circles == []
