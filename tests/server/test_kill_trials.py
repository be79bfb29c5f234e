"""kill -9 of ``farmctl serve`` at random moments, then a restart: is everything still consistent?

Two simulated printers live in the test process, at ``/dev/serial/by-id``-style links, so they
outlive every server and record every command they ran: that record, not farmctl's own, is the
oracle. Each file carries ``M117 BEGIN <name>`` and ``M117 END <name>``; its bed-clearing script
``M117 CLEAR BEGIN`` and ``M117 CLEAR END``. Each trial starts the server, checks it, sets both
queues going, uploads (one file whole, one big file slowly), adds a job, renames another, and is
killed at a random moment (some trials just as a bed is being cleared). After each restart:

* every listed upload is whole (its hash is that of the file sent), and no temp file is left;
* every run is closed; each set's completed count is its success runs; nothing runs until a person
  starts the queue again; an interrupted bed clearing is named so the person checks the bed;
* every started print has a run, every success really printed to its END, and a copy printed to
  its END but not counted is one the kill cut off within moments of its last line.

At the end the queue finishes what is owed: each file is printed exactly as often as asked (plus
those cut-off copies, which are counted and printed). ``FARMCTL_KILL_TRIALS=200`` runs more trials.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from server_helpers import Client, ServerProcess, local_jobs, wait_until
from test_upload_kill import multipart

from farmctl.sim import SimulatedPrinter

TRIALS = int(os.environ.get("FARMCTL_KILL_TRIALS", "20"))
MOVES = 400
pytestmark = pytest.mark.timeout(60 + TRIALS * 6)

CLEAR_SCRIPT = "M117 CLEAR BEGIN\n" + "".join(f"G1 X{i % 20} Y200 F9000\n" for i in range(60)) + "M117 CLEAR END\n"
AUTOMATION = json.dumps({"scripts": {"clear": CLEAR_SCRIPT}, "preprocessors": {},
                         "events": {"continuousprint_success": [{"script": "clear", "preprocessor": None}]}})


def part(name: str) -> bytes:
    moves = "".join(f"G1 X{(i * 7) % 200} Y{(i * 13) % 200} F9000\n" for i in range(MOVES))
    return f"M117 BEGIN {name}\n{moves}M117 END {name}\n".encode()


@dataclass
class Oracle:
    """What the test sent and what the printers ran."""

    sims: dict[str, SimulatedPrinter]
    sent: dict[str, str] = field(default_factory=dict)      # upload name -> sha1 of the whole file
    asked: dict[str, int] = field(default_factory=dict)     # part name -> copies asked for
    unanswered: dict[str, int] = field(default_factory=dict)  # a set/add the kill cut off: taken or not
    kills: list[float] = field(default_factory=list)        # monotonic times of the kills
    cut_off: int = 0                                         # copies printed to END but not counted
    looked: dict[str, int] = field(default_factory=dict)     # printer -> commands it had run at the last look

    def markers(self) -> list[tuple[str, float]]:
        """Every M117 marker the printers ran (both printers, each in its own order)."""
        return [(e.command[5:], e.at) for sim in self.sims.values() for e in sim.executed
                if e.command.startswith("M117 ")]

    def begun(self) -> Counter[str]:
        return Counter(m[6:] for m, _ in self.markers() if m.startswith("BEGIN ") and m != "CLEAR BEGIN")

    def completed(self) -> dict[str, list[float]]:
        """Per part, the times its END ran (a print is complete when its last line ran)."""
        ends: dict[str, list[float]] = {}
        for marker, at in self.markers():
            if marker.startswith("END ") and marker != "CLEAR END":
                ends.setdefault(marker[4:], []).append(at)
        return ends

    def clearing_cut(self, name: str) -> bool:
        """Since the last restart, the last thing this printer did was a bed clearing that began and never
        ended (one cut off before an earlier restart was seen then; a person has started the queue since)."""
        executed = self.sims[name].executed[self.looked.get(name, 0):]
        markers = [e.command for e in executed if e.command.startswith("M117 ")]
        return bool(markers) and markers[-1] == "M117 CLEAR BEGIN"


def check_after_restart(server: ServerProcess, key: str, oracle: Oracle, trial: int) -> None:
    cp = Client(server.farm_cp, key)
    # A set/add the kill cut off got no answer: it was taken whole or not at all, and the queue says which.
    listed = {item["path"] for job in local_jobs(cp.state()) for item in job["sets"]}
    for name, copies in list(oracle.unanswered.items()):
        if name in listed:
            oracle.asked[name] = copies
        del oracle.unanswered[name]
    headers = {"X-Api-Key": key}
    listing = requests.get(f"{server.url}/printers/p1/api/files?recursive=true", headers=headers, timeout=10).json()
    files = listing["files"] if "files" in listing else pytest.fail(f"trial {trial}: {listing}")
    for entry in files:
        assert entry["name"] in oracle.sent, f"trial {trial}: an upload nobody sent: {entry['name']}"
        assert entry["hash"] == oracle.sent[entry["name"]], f"trial {trial}: {entry['name']} is not whole"
    leftovers = [p.name for p in server.uploads.rglob("*") if p.name.endswith(".part")]
    assert not leftovers, f"trial {trial}: temp files of killed uploads stay behind: {leftovers}"

    history = cp.history()
    assert all(run["result"] is not None for run in history), f"trial {trial}: a run is still open"
    results: dict[str, Counter[str]] = {}
    for run in history:
        results.setdefault(run["set_path"], Counter())[run["result"]] += 1
    for name in oracle.sims:
        assert Client(server.cp(name), key).state()["active"] is False, f"trial {trial}: {name} started by itself"
    for job in local_jobs(cp.state()):
        for item in job["sets"]:
            successes = results.get(item["path"], Counter())["success"]
            assert item["completed"] == successes, f"trial {trial}: {item['path']} counted wrong"
            assert item["remaining"] == item["count"] - successes, f"trial {trial}: {item['path']} owes wrong"

    begun, completed = oracle.begun(), oracle.completed()
    for name in set(begun) | set(completed):
        runs = results.get(name, Counter())
        assert begun[name] <= sum(runs.values()), f"trial {trial}: {name} printed without a run"
        ends = completed.get(name, [])
        assert runs["success"] <= len(ends), f"trial {trial}: {name} counted a copy that never ended"
        uncounted = len(ends) - runs["success"]
        assert uncounted <= runs["aborted"], f"trial {trial}: {name} ended uncounted, not by a kill"
        # a copy that ended but was not counted: the kill came between its last line and the record
        late = sorted(ends)[-uncounted:] if uncounted else []
        for end in late:
            assert any(0 <= kill - end < 0.5 for kill in oracle.kills), \
                f"trial {trial}: {name} ended {min(abs(k - end) for k in oracle.kills):.2f} s from any kill, uncounted"
    oracle.cut_off = sum(max(0, len(completed.get(n, [])) - results.get(n, Counter())["success"])
                         for n in completed)

    for name, sim in oracle.sims.items():
        status = Client(server.cp(name), key).state()["status"]
        if oracle.clearing_cut(name):
            assert "bed" in status.lower() and "interrupted" in status, \
                f"trial {trial}: {name}'s bed clearing was cut off but the status says {status!r}"
        oracle.looked[name] = len(sim.executed)

    ran = {name: len(sim.executed) for name, sim in oracle.sims.items()}
    time.sleep(0.2)
    assert {name: len(sim.executed) for name, sim in oracle.sims.items()} == ran, \
        f"trial {trial}: a printer ran something before anyone started the queue"


def busy_client(server: ServerProcess, key: str, oracle: Oracle, trial: int, rnd: random.Random,
                job_to_rename: int | None, stop: threading.Event) -> None:
    """Uploads, a new job and renames, until the server dies under it."""
    headers = {"X-Api-Key": key}
    cp = Client(server.cp(), key)
    try:
        name = f"part{trial}.gcode"
        content = part(name)
        oracle.sent[name] = hashlib.sha1(content).hexdigest()
        boundary = f"farmctl{trial}"
        response = requests.post(f"{server.url}/printers/p1/api/files/local", timeout=10,
                                 data=multipart(name, content, boundary, 0.0),
                                 headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert response.status_code == 201, response.text
        copies = rnd.choice((1, 2))
        oracle.unanswered[name] = copies
        response = cp.post("set/add", data={"path": name, "sd": False, "count": copies, "jobName": f"job{trial}",
                                            "jobDraft": False})
        assert response.status_code == 200, response.text
        oracle.asked[name] = oracle.unanswered.pop(name)
        big = f"big{trial}.gcode"
        blob = b"G1 X1 Y1\n" * (200_000 + trial)
        oracle.sent[big] = hashlib.sha1(blob).hexdigest()
        requests.post(f"{server.url}/printers/p1/api/files/local", timeout=10,
                      data=multipart(big, blob, boundary, 0.01),
                      headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        rename = 0
        while job_to_rename is not None and not stop.is_set():
            rename += 1
            cp.post("job/edit", data={"json": json.dumps({"id": job_to_rename, "name": f"renamed{rename}"})})
    except (requests.ConnectionError, requests.Timeout):
        pass  # the kill


def operational(server: ServerProcess, key: str, name: str) -> bool:
    response = requests.get(f"{server.url}/printers/{name}/api/printer", headers={"X-Api-Key": key}, timeout=10)
    return response.status_code == 200 and response.json()["state"]["text"] == "Operational"


def test_kill_9_at_random_moments_loses_nothing_and_prints_no_copy_twice(tmp_path: Path) -> None:
    rnd = random.Random(int(os.environ.get("FARMCTL_KILL_SEED", "10")))
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    sims = {name: SimulatedPrinter("marlin2", full_speed=True, time_scale=0,
                                   link=by_id / f"usb-farmctl_Sim_{name}-if00").start() for name in ("p1", "p2")}
    config = "".join(f'[[printers]]\nname = "{name}"\nport = "{sim.port}"\nprofile = "marlin2"\n\n'
                     for name, sim in sims.items())
    server = ServerProcess(tmp_path, config)
    oracle = Oracle(sims)
    try:
        server.start()
        key = server.add_key("admin")
        assert Client(server.cp(), key).post("automation/edit", data={"json": AUTOMATION}).status_code == 200
        server.kill()
        for trial in range(TRIALS):
            server.start()
            check_after_restart(server, key, oracle, trial)
            wait_until(lambda: all(operational(server, key, n) for n in sims), 10, "the printers to reconnect")
            jobs = local_jobs(Client(server.cp(), key).state())
            for name in sims:
                Client(server.cp(name), key).post("set_active", data={"active": True})
            stop = threading.Event()
            worker = threading.Thread(target=busy_client, args=(server, key, oracle, trial, rnd,
                                                                jobs[0]["id"] if jobs else None, stop))
            worker.start()
            if trial % 4 == 3:  # just as a bed is being cleared
                def clearing() -> bool:
                    return any(e.command == "M117 CLEAR BEGIN" for sim in sims.values() for e in sim.executed[-80:])
                try:
                    wait_until(clearing, 3, "a bed clearing", every=0.002)
                except AssertionError:
                    pass
                time.sleep(rnd.uniform(0, 0.03))
            else:
                time.sleep(rnd.uniform(0.05, 1.2))
            oracle.kills.append(time.monotonic())
            server.kill()
            stop.set()
            worker.join(10)

        server.start()
        check_after_restart(server, key, oracle, TRIALS)
        for name in sims:
            Client(server.cp(name), key).post("set_active", data={"active": True})

        def all_printed() -> bool:  # every job asked for is listed, and owes nothing
            owed = {item["path"]: item["remaining"] for job in local_jobs(Client(server.cp(), key).state())
                    for item in job["sets"]}
            return set(oracle.asked) <= set(owed) and not any(owed.values())
        wait_until(all_printed, 30 + TRIALS, "every owed copy to print", every=0.2)
        wait_until(lambda: all(Client(server.cp(n), key).state()["status"].startswith("Idle") for n in sims),
                   10, "the bed clearings to end")
        completed = oracle.completed()
        history = Client(server.farm_cp, key).history()
        successes = Counter(run["set_path"] for run in history if run["result"] == "success")
        for name, copies in oracle.asked.items():
            assert successes[name] == copies, f"{name}: {successes[name]} counted, {copies} asked"
        uncounted = sum(len(completed.get(name, [])) - successes[name] for name in oracle.asked)
        assert uncounted == oracle.cut_off
        kills_in_print = sum(1 for run in history if run["result"] == "aborted")
        print(f"\n{TRIALS} kill -9 trials: {len(oracle.asked)} jobs, {sum(successes.values())} copies counted, "
              f"{kills_in_print} prints interrupted and owed again, {uncounted} copies printed to their end "
              f"but cut off before they were counted, 0 inconsistencies")
    finally:
        server.kill()
        for sim in sims.values():
            sim.stop()

