"""An S3-compatible server on this machine for the tests: moto's standalone server over HTTP.

No S3 server (MinIO, SeaweedFS, Garage) installs from the package registries reachable here, so the
tests use moto's server (`moto[server]`, pinned in requirements-s3server.txt) from its own virtualenv
`.venv-s3` (its pins clash with the app's), built by `make test`. `scripts/test.sh` starts one and
exports TEST_S3_ENDPOINT; a test run without it starts its own. Without `.venv-s3` the S3 tests are
skipped, and in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOTO = ROOT / ".venv-s3" / "bin" / "moto_server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(endpoint: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/", timeout=1).close()
            return True
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP answer of any status: the server is up
                return True
            time.sleep(0.2)
    return False


def start(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """A moto server on a free port; returns the process and its endpoint URL."""
    if not MOTO.exists():
        raise FileNotFoundError(f"{MOTO} is missing: run `make test` (it builds .venv-s3)")
    port = free_port()
    environ = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environ,
    )
    endpoint = f"http://127.0.0.1:{port}"
    if not wait_up(endpoint):
        proc.kill()
        raise RuntimeError("moto_server did not start")
    return proc, endpoint
