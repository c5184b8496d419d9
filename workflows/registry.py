"""The tables of background work: outbox jobs (run for a recorded row) and periodic tasks, by name.

This module is the bottom of `workflows/`'s background machinery and imports none of it: `workflows.jobs` (and
any other module of jobs) fills a `Registry` of its own, the application factory installs them on the app (an
explicit call, not a side effect of an import), and `outbox`, `queue` and `scheduler` read the installed one.
The dependencies point one way: jobs → engine, queue → outbox → registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

EXTENSION = "appeals_jobs"


@dataclass
class Registry:
    """Outbox jobs (they take ids and plain values) and periodic tasks (no arguments), by name."""

    jobs: dict[str, Callable[..., Any]] = field(default_factory=dict)
    tasks: dict[str, Callable[[], Any]] = field(default_factory=dict)
    # Per job, the arguments the outbox row forgets once the job is done (a sealed secret, say).
    forget: dict[str, frozenset[str]] = field(default_factory=dict)

    def job(self, name: str, forget: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a function as the outbox job `name`; its arguments named in `forget` are removed from the
        outbox row when the job is done."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.jobs[name] = fn
            if forget:
                self.forget[name] = frozenset(forget)
            return fn

        return register

    def task(self, name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
        """Declare a function as the periodic task `name`."""

        def register(fn: Callable[[], Any]) -> Callable[[], Any]:
            self.tasks[name] = fn
            return fn

        return register


def install(app: Flask, *registries: Registry) -> None:
    """Make the registries' jobs and tasks the app's (the factory calls this once, with every module's registry:
    a module of jobs declares its own `Registry` and is named in the factory's call). A name declared twice is
    refused."""
    merged = Registry()
    for registry in registries:
        for mine, theirs in ((merged.jobs, registry.jobs), (merged.tasks, registry.tasks)):
            twice = mine.keys() & theirs.keys()
            if twice:
                raise ValueError(f"declared twice: {sorted(twice)}")
            mine.update(theirs)
        merged.forget.update(registry.forget)
    app.extensions[EXTENSION] = merged


def installed(app: Flask | None = None) -> Registry:
    """The registry installed on the app (the current one by default)."""
    return (app or current_app).extensions[EXTENSION]
