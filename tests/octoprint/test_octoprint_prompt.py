"""Firmware prompts through OctoPrint's Action Command Prompt plugin API: read, answered, closed."""

from __future__ import annotations

import time

import requests


def wait_for(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
    return value


def test_a_prompt_is_read_answered_with_m876_and_gone(server):
    url, headers = server.urls["p1"] + "/api/plugin/action_command_prompt", server.headers()
    assert requests.get(url, headers=headers).json() == {}
    refused = requests.post(url, headers=headers, json={"command": "select", "choice": 0})
    assert refused.status_code == 409 and refused.json()["error"]

    server.sim("p1").prompt("Purge more?", ("Purge", "Continue"))
    shown = wait_for(lambda: requests.get(url, headers=headers).json())
    assert shown == {"text": "Purge more?", "choices": ["Purge", "Continue"]}
    assert requests.get(server.urls["p2"] + "/api/plugin/action_command_prompt", headers=headers).json() == {}

    for bad in ({"command": "select", "choice": 2}, {"command": "select", "choice": "1"},
                {"command": "select", "choice": True}, {"command": "select"}, {"command": "dismiss", "choice": 0}):
        response = requests.post(url, headers=headers, json=bad)
        assert response.status_code == 400 and response.json()["error"], bad
    assert requests.get(url, headers=headers).json() == shown  # still asking
    assert server.sim("p1").prompt_responses == []

    assert requests.post(url, headers=headers, json={"command": "select", "choice": 1}).status_code == 204
    assert requests.get(url, headers=headers).json() == {}
    wait_for(lambda: server.sim("p1").prompt_responses == [1])
