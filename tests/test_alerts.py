"""Alerts reach a webhook: a real `dagster-daemon` runs the platform's alert sensors beside a
job whose blocking check fails (tests/alerting_defs.py); a local HTTP server stands in for Slack.
Both the failed run and the failed check arrive, as `{"text": ...}`, within 60 s of the run's
end. The platform's own location carries the same two sensors (`dg list defs`)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import stop_started

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MARKER = "MLOPS_TEST_ALERTS"


class Webhook:
    """A loopback HTTP server that records each JSON body posted to it, with its arrival."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((time.time(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["text"] for _, body in self.received]


def test_a_failed_run_and_a_failed_blocking_check_reach_the_webhook(tmp_path):
    webhook = Webhook()
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    marker = uuid.uuid4().hex
    env = {**os.environ, "DAGSTER_HOME": str(home), "MLOPS_ALERT_WEBHOOK": webhook.url}
    env[MARKER] = marker
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-f", str(ROOT / "tests" / "alerting_defs.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while len(webhook.received) < 2 and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        stop_started(daemon, MARKER, marker, signal.SIGTERM)
        webhook.server.shutdown()
    texts = webhook.texts()
    assert any("numbers_job failed" in t for t in texts), texts
    assert any("check positive of numbers failed (ERROR): -1 is not" in t for t in texts), texts
    instance = dg.DagsterInstance.from_config(str(home))
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    ended = instance.get_run_stats(run.run_id).end_time
    assert all(arrived - ended <= 60 for arrived, _ in webhook.received), (ended, texts)
