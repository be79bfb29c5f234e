"""Requests nobody should send, sent by hand to a real ``farmctl serve``: cut-off and malformed
multipart, huge bodies and headers, non-UTF-8 names, numbers out of range, G-code that is not
G-code, doubled slashes and ``%2e%2e``. Each gets a clear 4xx with ``{"error": ...}`` (the HTTP
parser's own 400/431 for a broken request line or header), nothing is half-written, and doubled
slashes are served as OctoPrint serves them."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from server_helpers import Client, ServerProcess, everything_in, farm_toml, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One printer (so the plain paths are its own, as on an OctoPrint) with one queued job."""
    proc = ServerProcess(tmp_path_factory.mktemp("malformed"), farm_toml("p1"))
    try:
        proc.start()
        proc.add_key("admin")
        proc.wait_connected("p1")
        Client(proc.cp("p1"), proc.keys["admin"]).post(
            "set/add", data={"path": "a.gcode", "sd": False, "count": 1, "jobName": "keep"})
        yield proc
    finally:
        proc.kill()


def snapshot(srv: ServerProcess) -> dict[str, Any]:
    cp = Client(srv.cp("p1"), srv.keys["admin"])
    return {"state": cp.state(), "history": cp.history(), "automation": cp.get("automation/get").json(),
            "uploads": everything_in(srv.uploads)}


def raw(srv: ServerProcess, request: bytes, read: bool = True) -> tuple[int, dict[str, Any] | None]:
    """Send bytes as they are; the status and JSON body of the answer (0 when the server hung up)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(request)
        if not read:
            return 0, None
        data = b""
        while not _complete(data) and (chunk := sock.recv(65536)):
            data += chunk  # not to EOF: a server may linger reading a body it refused before it closes
    if not data:
        return 0, None
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def _complete(data: bytes) -> bool:
    head, found, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return bool(found) and length is not None and len(body) >= int(length.group(1))


def post_raw(srv: ServerProcess, path: str, body: bytes, content_type: str, length: int | None = None) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Api-Key: {srv.keys['admin']}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body) if length is None else length}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def assert_refused(status: int, body: Any, *statuses: int) -> None:
    assert status in (statuses or range(400, 500)), (status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body


UPLOAD = "/printers/p1/api/files/local"
BOUNDARY = "farmctlXboundary"


def multipart(name: bytes, content: bytes, close: bool = True) -> bytes:
    body = (f"--{BOUNDARY}\r\n".encode() + b'Content-Disposition: form-data; name="file"; filename="' + name
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content)
    return body + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")


def test_cut_off_and_malformed_multipart_is_a_400_and_leaves_nothing(srv: ServerProcess) -> None:
    before = snapshot(srv)
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    for body, content_type in [
        (multipart(b"cut.gcode", b"G28\nG1 X10\n" * 1000, close=False), kind),  # no closing boundary
        (multipart(b"cut.gcode", b"G28\n")[:60], kind),  # cut inside the part's headers
        (b"this is not multipart at all", kind),
        (multipart(b"cut.gcode", b"G28\n"), "multipart/form-data"),  # no boundary parameter
        (multipart(b"cut.gcode", b"G28\n").replace(b"\r\n\r\n", b"\r\n", 1), kind),  # headers never end
    ]:
        assert_refused(*raw(srv, post_raw(srv, UPLOAD, body, content_type)))
        assert snapshot(srv) == before
    # The client promises more than it sends and hangs up: no answer to read, and nothing kept.
    body = multipart(b"gone.gcode", b"G1 X1\n" * 5000, close=False)
    raw(srv, post_raw(srv, UPLOAD, body, kind, length=len(body) + 10_000), read=False)
    wait_until(lambda: snapshot(srv) == before, 5, "the cut-off upload to leave nothing")


def test_non_utf8_names_are_refused_clearly(srv: ServerProcess) -> None:
    before = snapshot(srv)
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    status, body = raw(srv, post_raw(srv, UPLOAD, multipart(b"caf\xe9.gcode", b"G28\n"), kind))
    if status == 201:  # accepted under a name a person can read, never as mojibake bytes on disk
        name = body["files"]["local"]["name"]
        assert name.encode("utf-8").decode("utf-8") == name and (srv.uploads / name).exists()
        requests.delete(f"{srv.url}{UPLOAD}/{name}", headers={"X-Api-Key": srv.keys["admin"]}, timeout=10)
    else:
        assert_refused(status, body)
    assert_refused(*raw(srv, f"GET /api/files/local/%ff%fe.gcode HTTP/1.1\r\nHost: x\r\nX-Api-Key: "
                             f"{srv.keys['admin']}\r\nConnection: close\r\n\r\n".encode()))
    assert snapshot(srv) == before


def test_huge_bodies_and_headers(srv: ServerProcess) -> None:
    before = snapshot(srv)
    huge = post_raw(srv, "/api/printer/command", b"", "application/json", length=200 << 20)
    assert_refused(*raw(srv, huge), 413)
    status, _ = raw(srv, f"GET /api/job HTTP/1.1\r\nHost: x\r\nX-Api-Key: {srv.keys['admin']}\r\n"
                         f"X-Filler: {'a' * 100_000}\r\nConnection: close\r\n\r\n".encode())
    assert status in (400, 431)  # the HTTP parser's own answer: the request never reaches farmctl
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    assert_refused(*raw(srv, post_raw(srv, "/plugin/continuousprint/automation/external", deep, "application/json")))
    assert snapshot(srv) == before


@pytest.mark.parametrize("path,body", [
    ("/plugin/continuousprint/automation/external", b'{"temperature": 1e999}'),
    ("/plugin/continuousprint/automation/external", b'{"temperature": NaN}'),
    ("/plugin/continuousprint/automation/external", b'{"temperature": -Infinity}'),
    ("/plugin/continuousprint/job/edit", b'{"id": 18446744073709551616, "count": 2}'),
    ("/plugin/continuousprint/job/edit", b'{"id": 9223372036854775808}'),
    ("/plugin/continuousprint/job/edit", b'{"id": 1e999}'),
    ("/plugin/continuousprint/job/rm", b'{"job_ids": [18446744073709551616]}'),
    ("/plugin/continuousprint/job/mv", b'{"id": 1, "after_id": -18446744073709551616}'),
    ("/plugin/continuousprint/set/add", b'{"path": "a.gcode", "count": 18446744073709551616}'),
    ("/api/printer/bed", b'{"command": "target", "target": NaN}'),
    ("/api/printer/bed", b'{"command": "target", "target": 1e999}'),
    ("/api/printer/tool", b'{"command": "target", "targets": {"tool0": Infinity}}'),
    ("/api/printer/printhead", b'{"command": "jog", "x": 18446744073709551616}'),
    ("/api/printer/tool", b'{"command": "extrude", "amount": -1e308}'),
    ("/api/printer/command", b'{"command": "M104 S200\\nM140 S100"}'),  # two commands in one line
    ("/api/printer/command", b'{"command": "\\u0000\\u00ff\\ufffd"}'),
    ("/api/printer/command", b'{"commands": ["G1 X" , "' + b"9" * 300 + b'"]}'),
    ("/api/printer/command", b'{"command": "N5 M104 S200*12"}'),  # a line number is the host's to give
    ("/api/plugin/action_command_prompt", b'{"command": "select", "choice": 18446744073709551616}'),
])
def test_numbers_out_of_range_and_bad_gcode_are_refused(srv: ServerProcess, path: str, body: bytes) -> None:
    before = snapshot(srv)
    assert_refused(*raw(srv, post_raw(srv, path, body, "application/json")))
    assert snapshot(srv) == before
    automation = requests.get(f"{srv.cp()}/automation/get", headers={"X-Api-Key": srv.keys["admin"]}, timeout=10)
    json.loads(automation.text, parse_constant=lambda c: pytest.fail(f"{c} in automation/get"))


def _http(srv: ServerProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """http.client sends the path exactly as given (requests and browsers may tidy it first)."""
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    headers = {"X-Api-Key": srv.keys["admin"], "Content-Type": "application/json"}
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None


def test_doubled_slashes_are_served_like_single_ones(srv: ServerProcess) -> None:
    # Home Assistant's OctoPrint client (pyoctoprintapi) joins its base URL with "/api/...".
    assert _http(srv, "POST", "//api/printer/bed", {"command": "target", "target": 42})[0] == 204
    wait_until(lambda: _http(srv, "GET", "/api/printer/bed")[1]["bed"]["target"] == 42, 10, "the bed's target")
    status, job = _http(srv, "GET", "//api//job?apikey=x")
    assert status == 200 and "state" in job
    assert _http(srv, "GET", "/printers/p1//api/printer/bed")[0] == 200
    assert _http(srv, "GET", "//printers//p1/plugin/continuousprint/state/get")[0] == 200
    assert _http(srv, "POST", "//api/printer/bed", {"command": "target", "target": 0})[0] == 204
    status, body = _http(srv, "GET", "//api/no-such-thing")
    assert status == 404 and "error" in body
    status, body = _http(srv, "GET", "//api/users", None)
    assert status == 200  # the same route, so the same role check: an admin key may


def test_dot_dot_in_any_spelling_stays_in_the_uploads_folder(srv: ServerProcess) -> None:
    (srv.data / "secret.gcode").write_bytes(b"M117 secret\n")
    before = snapshot(srv)
    for method, path in [
        ("GET", "/api/files/local/%2e%2e/farmctl.db"),
        ("GET", "/api/files/local/%2E%2E/secret.gcode"),
        ("GET", "/downloads/files/local/%2e%2e/secret.gcode"),
        ("GET", "/downloads/files/local/..%2fsecret.gcode"),
        ("GET", "/downloads/files/local/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        ("DELETE", "/api/files/local/%2e%2e/secret.gcode"),
        ("POST", "/api/files/local/%2e%2e/secret.gcode"),
        ("GET", "/printers/p1/api/files/local/..%5csecret.gcode"),
    ]:
        status, body = _http(srv, method, path, {"command": "select"} if method == "POST" else None)
        assert 400 <= status < 500 and "error" in body, (method, path, status, body)
        assert b"secret" not in json.dumps(body).encode() or status == 404, body
    assert (srv.data / "secret.gcode").exists() and (srv.data / "farmctl.db").exists()
    assert snapshot(srv) == before


def test_a_binary_file_named_gcode_is_stored_but_never_half_printed(srv: ServerProcess) -> None:
    junk = bytes(range(256)) * 64
    key = {"X-Api-Key": srv.keys["admin"]}
    upload = requests.post(f"{srv.url}{UPLOAD}", files={"file": ("junk.gcode", junk)}, headers=key, timeout=10)
    assert upload.status_code in (201, 400), upload.text
    if upload.status_code == 201:
        start = requests.post(f"{srv.url}/printers/p1/api/files/local/junk.gcode", headers=key, timeout=10,
                              json={"command": "select", "print": True})
        assert start.status_code in (204, 400, 409) and (start.status_code == 204 or "error" in start.json())
        wait_until(lambda: requests.get(f"{srv.url}/printers/p1/api/job", headers=key, timeout=10).json()
                   ["state"] in ("Operational", "Error"), 10, "the junk print to end")
        requests.delete(f"{srv.url}{UPLOAD}/junk.gcode", headers=key, timeout=10)
    assert requests.get(f"{srv.url}/api/job", headers=key, timeout=10).status_code == 200
