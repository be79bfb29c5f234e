"""Schemathesis fuzzes every operation of ``/openapi.json`` against a real ``farmctl serve``:
valid and invalid bodies, queries and path parameters as its generators make them. No answer may
be a 5xx or take longer than the request timeout, every refusal is ``{"error": ...}``, and a
refused request changes nothing that state/get, the history, the automation or the uploads show.

The per-printer copies (``/printers/{printer}/...``) run the same handlers as the plain paths
and the push channel is a websocket, so both are left out; the run is bounded by an example
count per operation (``FUZZ_EXAMPLES``, more with ``FUZZ_EXAMPLES=50``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from server_helpers import CP, ServerProcess, farm_toml

from farmctl.http.openapi import document

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
REQUEST_TIMEOUT = 10.0
SKIPPED = r"^/printers/|^/sockjs/|^/static/|^/$"

schema = schemathesis.openapi.from_dict(document()).exclude(path_regex=SKIPPED)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=EXAMPLES, deterministic=True)
schema.config.phases.update(phases=["examples", "fuzzing"])  # the coverage phase alone is thousands of cases
RUN: dict[str, int] = {"cases": 0, "refused": 0, "5xx": 0}
_LOOK: dict[str, requests.Session] = {}
_LAST: dict[str, Any] = {}  # what the last case left: the next case's "before", one look-up saved


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One printer, a file and a queued job, so some fuzzed requests find something to act on."""
    proc = ServerProcess(tmp_path_factory.mktemp("fuzz"), farm_toml("p1"))
    try:
        proc.start()
        proc.add_key("admin")
        (proc.uploads / "a.gcode").write_bytes(b"G28\nG1 X10 Y10\n")
        requests.post(f"{proc.url}{CP}/set/add", headers={"X-Api-Key": proc.keys["admin"]}, timeout=10,
                      data={"path": "a.gcode", "sd": False, "count": 1, "jobName": "keep"})
        yield proc
        print(f"\nfuzz: {RUN['cases']} cases over {len(list(schema.get_all_operations()))} operations, "
              f"{RUN['refused']} refused with 4xx, {RUN['5xx']} answered 5xx")
    finally:
        proc.kill()


def _visible(srv: ServerProcess) -> dict[str, Any]:
    """What a refused request must leave as it was: the queue, history, automation and uploads."""
    look = _LOOK.setdefault("session", requests.Session())
    look.headers["X-Api-Key"] = srv.keys["admin"]
    state = look.get(f"{srv.url}{CP}/state/get", timeout=10).json()
    return {
        "queues": state["queues"],
        "history": look.get(f"{srv.url}{CP}/history/get", timeout=10).json(),
        "automation": look.get(f"{srv.url}{CP}/automation/get", timeout=10).json(),
        "files": sorted(str(p.relative_to(srv.uploads)) for p in srv.uploads.rglob("*")
                        if ".farmctl-meta" not in p.parts),
    }


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_fuzzed_requests_get_no_5xx_and_a_refusal_changes_nothing(case: schemathesis.Case,
                                                                  target: ServerProcess) -> None:
    headers = {"X-Api-Key": target.keys["admin"]}
    before = _LAST.pop("seen", None) or _visible(target)
    started = time.monotonic()
    response = case.call(base_url=target.url, headers=headers, timeout=REQUEST_TIMEOUT)
    RUN["cases"] += 1
    assert time.monotonic() - started < REQUEST_TIMEOUT
    if response.status_code >= 500:
        RUN["5xx"] += 1
    assert response.status_code < 500, f"{case.as_curl_command()}\n-> {response.status_code} {response.text}"
    after = _visible(target)
    if 400 <= response.status_code < 500:
        RUN["refused"] += 1
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), (case.as_curl_command(), body)
        assert after == before, f"a refused request changed something: {case.as_curl_command()}"
    _LAST["seen"] = after
