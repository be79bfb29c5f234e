"""The node's MQTT connection: a listener of farm events that publishes them, never on a printer's path.

It hears the farm through the same bounded queue as the push channel (the farm never waits on
it) and reads temperatures and progress once a second, so a slow or absent broker holds up
nothing but this task. A lost broker is retried with back-off; on every (re)connection the node
says ``connected``, sends Home Assistant its discovery configs and the current state of every
printer, so retained topics are right again whatever happened while it was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

import aiomqtt

from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.farm.mqtt_config import MqttConfig
from farmctl.http.octoprint_printer import heaters, temperature_now
from farmctl.mqtt.messages import (
    CONNECTED, DISCONNECTED, Heater, Layout, Message, PrinterDevice, PrinterTelemetry, discovery_messages,
    event_message,
)

log = logging.getLogger(__name__)

TICK = 1.0
"""Seconds between looks at temperatures and progress."""
FIRST_RETRY = 1.0
LAST_RETRY = 30.0
CLOSE_TIMEOUT = 2.0


class MqttPublisher:
    """``await start()`` once the farm runs; ``await close()`` says ``disconnected`` and stops."""

    def __init__(self, farm: Farm, config: MqttConfig, node: str, *, first_retry: float = FIRST_RETRY) -> None:
        self.farm = farm
        self.config = config
        self.layout = Layout(config.base_topic, node, config.discovery_prefix)
        self.first_retry = first_retry
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._telemetry: dict[str, PrinterTelemetry] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt publisher")

    async def close(self) -> None:
        """A clean stop sends no last will, so say ``disconnected`` ourselves, as the plugin does."""
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await asyncio.wait_for(self._send(client, self.layout.will_message(DISCONNECTED)), CLOSE_TIMEOUT)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        retry = self.first_retry
        where = f"{self.config.host}:{self.config.port}"
        while True:
            will = self.layout.will_message(DISCONNECTED)
            try:
                async with aiomqtt.Client(
                        self.config.host, self.config.port, username=self.config.username,
                        password=self.config.password, keepalive=self.config.keepalive, timeout=10.0,
                        identifier=f"farmctl-{self.layout.node}-{secrets.token_hex(3)}",
                        will=aiomqtt.Will(will.topic, will.payload, will.qos, will.retain)) as client:
                    log.info("MQTT: connected to %s as node %s", where, self.layout.node)
                    retry = self.first_retry
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT broker %s: %s; trying again in %.1f s", where, exc, retry)
            except Exception:  # a bug here must cost telemetry, never the farm
                log.exception("MQTT publisher failed; trying again in %.1f s", retry)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(retry)
            retry = min(retry * 2, LAST_RETRY)

    async def _session(self, client: aiomqtt.Client) -> None:
        changes = self.farm.subscribe()  # only while connected: nothing piles up for a broker that is away
        getter: asyncio.Future[dict[str, Any]] | None = None
        try:
            await self._send(client, self.layout.will_message(CONNECTED))
            await self._publish_all(client, self._snapshot())
            self._client = client
            self.connected.set()
            next_tick = time.monotonic() + TICK
            while True:
                getter = getter or asyncio.ensure_future(changes.get())
                done, _ = await asyncio.wait({getter}, timeout=max(0.0, next_tick - time.monotonic()))
                if getter in done:
                    change, getter = getter.result(), None
                    await self._publish_all(client, self._on_change(change, time.time()))
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK
                    await self._publish_all(client, self._tick(time.time()))
        finally:
            if getter is not None:
                getter.cancel()
            self.farm.unsubscribe(changes)

    async def _publish_all(self, client: aiomqtt.Client, messages: list[Message]) -> None:
        for message in messages:
            await self._send(client, message)

    @staticmethod
    async def _send(client: aiomqtt.Client, message: Message) -> None:
        await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)

    # -- what to publish ---------------------------------------------------------------------------

    def _snapshot(self) -> list[Message]:
        """Everything retained, afresh: discovery, each printer's state, temperatures and progress."""
        now = time.time()
        self._telemetry = {name: PrinterTelemetry(name) for name in self.farm.printers}
        out: list[Message] = []
        if self.config.discovery:
            out += discovery_messages(self.layout, [self._device(entry) for entry in self.farm.printers.values()])
        for entry in self.farm.printers.values():
            state = entry.printer.state
            out.append(event_message(self.layout, entry.name, "PrinterStateChanged",
                                     {"state_id": state.name, "state_string": state.value}, now))
        return out + self._tick(now)

    @staticmethod
    def _device(entry: FarmPrinter) -> PrinterDevice:
        return PrinterDevice(entry.name, entry.display_name, entry.printer.profile.description, tuple(heaters(entry)))

    def _on_change(self, change: dict[str, Any], now: float) -> list[Message]:
        if change.get("type") != "event":
            return []
        names = [change["printer"]] if change["printer"] is not None else list(self.farm.printers)
        event, payload = change["event"], change["payload"]
        out = [event_message(self.layout, name, event, payload, now) for name in names]
        if event == "PrintDone" and change["printer"] in self._telemetry and "path" in payload:
            # every line was taken: 100 % now, before the next print replaces the progress the tick reads
            out += self._telemetry[change["printer"]].progress_of(self.layout, payload["path"], 1.0, now)
        return out

    def _tick(self, now: float) -> list[Message]:
        out: list[Message] = []
        for name, telemetry in self._telemetry.items():
            entry = self.farm.printers[name]
            readings = temperature_now(entry, entry.printer.temperatures)
            out += telemetry.temperatures(self.layout, [Heater(heater, reading["actual"], reading["target"])
                                                        for heater, reading in readings.items()], now)
            progress = entry.printer.progress
            if progress is not None and entry.script_event is None:
                path = self.farm.upload_name(progress.path)
                if path is not None:
                    out += telemetry.progress_of(self.layout, path, progress.fraction, now)
        return out
