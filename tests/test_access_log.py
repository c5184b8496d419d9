"""The production server's access log never records query strings (staff search carries phone numbers in them)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_logs_the_path_but_not_the_searched_phone(tmp_path):
    port, log = _free_port(), tmp_path / "access.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/a.db",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(log),
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/staff/search?q=13912345678&key=phone"
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=2)  # noqa: S310 (local test server)
                break
            except urllib.error.HTTPError:
                break  # any answer will do: the request was served and logged
            except OSError:
                time.sleep(0.1)
        for _ in range(50):
            if log.exists() and "/staff/search" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    text = log.read_text()
    assert "GET /staff/search HTTP/1.1" in text
    assert "13912345678" not in text and "q=" not in text
