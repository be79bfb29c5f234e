"""A real MQTT subscriber (aiomqtt) that records what it hears, and the broker the tests use."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from farmctl.farm.mqtt_config import MqttConfig


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    base_topic: str
    discovery_prefix: str

    def config(self, **changes: Any) -> MqttConfig:
        return MqttConfig(self.host, self.port, base_topic=self.base_topic, discovery_prefix=self.discovery_prefix,
                          **changes)

    def toml(self) -> str:
        return (f'mqtt = {{ host = "{self.host}", port = {self.port}, base_topic = "{self.base_topic}", '
                f'discovery_prefix = "{self.discovery_prefix}" }}\n')


@dataclass(frozen=True, slots=True)
class Heard:
    topic: str
    payload: bytes
    retain: bool
    at: float

    @property
    def text(self) -> str:
        return self.payload.decode()

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Subscriber:
    """Every message on the topic filters, in order of arrival (retained ones first, flagged)."""

    heard: list[Heard] = field(default_factory=list)

    def on(self, topic: str) -> list[Heard]:
        return [m for m in self.heard if m.topic == topic]

    def last(self, topic: str) -> Heard | None:
        found = self.on(topic)
        return found[-1] if found else None

    def retained(self) -> dict[str, Heard]:
        """The retained message of every topic, as a new subscriber (Home Assistant starting) gets it."""
        return {m.topic: m for m in self.heard if m.retain and m.payload}

    async def wait_for(self, predicate: Callable[[Subscriber], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            if time.monotonic() > deadline:
                topics = sorted({m.topic for m in self.heard})
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; heard {topics}")
            await asyncio.sleep(0.02)
        return value


@contextlib.asynccontextmanager
async def subscribed(broker: Broker, *filters: str) -> AsyncIterator[Subscriber]:
    """Subscribe (qos 1) before yielding, so nothing published afterwards is missed."""
    subscriber = Subscriber()
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for topic in filters:
            await client.subscribe(topic, qos=1)

        async def listen() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                subscriber.heard.append(Heard(message.topic.value, payload, bool(message.retain), time.monotonic()))

        task = asyncio.create_task(listen())
        try:
            yield subscriber
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
