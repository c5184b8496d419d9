"""The figures of one `make bench` run, gathered from every benchmark script, printed as one table.

Each benchmark calls `record(...)` for every figure it measures, next to its target; the records go
to a JSON Lines file (BENCH_RESULTS, default artifacts/bench/results.jsonl) that `make bench` empties
first. `python scripts/bench_results.py` prints the summary of whatever the run recorded.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "artifacts" / "bench" / "results.jsonl"


def results_path() -> Path:
    return Path(os.environ.get("BENCH_RESULTS") or DEFAULT)


def record(part: str, figure: str, measured: str, target: str = "", met: bool | None = None) -> None:
    """Add one figure of this run: where it comes from, what was measured, and its target (met or not)."""
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"part": part, "figure": figure, "measured": measured, "target": target, "met": met}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _machine() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, load average now {load:.2f}"


def main() -> int:
    path = results_path()
    if not path.exists():
        print(f"no benchmark figures recorded in {path}")
        return 1
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    width = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in ("part", "figure", "measured", "target")}
    print()
    print(f"=== make bench: every figure of this run ({_machine()}) ===")
    header = f"{'part':{width['part']}}  {'figure':{width['figure']}}  {'measured':{width['measured']}}  "
    print(header + f"{'target':{width['target']}}  verdict")
    for r in rows:
        verdict = {True: "MET", False: "NOT MET", None: "-"}[r["met"]]
        print(
            f"{r['part']:{width['part']}}  {r['figure']:{width['figure']}}  {r['measured']:{width['measured']}}  "
            f"{r['target']:{width['target']}}  {verdict}"
        )
    missed = [r for r in rows if r["met"] is False]
    print(f"{len(rows)} figures, {sum(r['met'] is True for r in rows)} targets met, {len(missed)} not met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
