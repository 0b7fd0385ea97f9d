"""A short run of the load test (scripts/load): it works, and nothing fails that is not a genuine
DynamoDB error. Speed is not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

from support import ROOT, clean_env


def test_a_short_load_run_has_no_failures(dynamodb_local):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "load.py"),
            "--seconds",
            "5",
            "--clients",
            "10",
            "--endpoint-url",
            dynamodb_local.endpoint_url,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["failure"] == 0, report["failures_seen"]
    assert report["ok"] > 0 and report["dynamodb_error"] > 0  # the missing table's query
    assert report["server_alive"]
