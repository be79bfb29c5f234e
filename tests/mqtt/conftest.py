"""The MQTT broker the tests publish to: the one ``.ci/run`` started (FARMCTL_TEST_MQTT=host:port),
else one listening on 127.0.0.1:1883; the tests skip, saying so, when there is none."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from mqtt_helpers import Broker

DEFAULT = "127.0.0.1:1883"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def broker_address() -> tuple[str, int]:
    address = os.environ.get("FARMCTL_TEST_MQTT", DEFAULT)
    host, _, port = address.rpartition(":")
    if not _reachable(host, int(port)):
        pytest.skip(f"no MQTT broker on {address}: run the suite through .ci/run, which starts Debian's "
                    "mosquitto, or set FARMCTL_TEST_MQTT=host:port")
    return host, int(port)


@pytest.fixture
async def broker(broker_address: tuple[str, int]) -> AsyncIterator[Broker]:
    """The broker, with topic roots of this test's own, so no retained message of another test is seen;
    what the test left retained is cleared afterwards (the broker may be one that others use)."""
    tag = secrets.token_hex(4)
    yield Broker(*broker_address, base_topic=f"test-{tag}/octoPrint", discovery_prefix=f"test-{tag}/homeassistant")
    async with aiomqtt.Client(*broker_address) as client:
        await client.subscribe(f"test-{tag}/#")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for message in client.messages:
                    if message.retain:
                        await client.publish(message.topic.value, b"", retain=True)
