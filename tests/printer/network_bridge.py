"""A serial-over-TCP bridge to a simulated printer, as ser2net or an ESP-link board provides one.

Raw bytes for ``socket://`` or Telnet with RFC 2217 for ``rfc2217://``, using pyserial's own
RFC 2217 server side (``serial.rfc2217.PortManager``). One client, on 127.0.0.1.
"""

from __future__ import annotations

import select
import socket
import threading

import serial
import serial.rfc2217


class _PtyPort(serial.Serial):
    """A pty has no modem lines, which RFC 2217 reports; a real UART's idle ones are shown instead."""

    cts = dsr = cd = True
    ri = False

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass


class _Connection:
    """What PortManager writes its Telnet replies to."""

    def __init__(self, client: socket.socket) -> None:
        self._client = client
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self._client.sendall(data)


class NetworkBridge:
    def __init__(self, pty_path: str, rfc2217: bool) -> None:
        self._pty_path = pty_path
        self._rfc2217 = rfc2217
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="network bridge", daemon=True)

    @property
    def url(self) -> str:
        scheme = "rfc2217" if self._rfc2217 else "socket"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> NetworkBridge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        port = _PtyPort(self._pty_path, 115200, timeout=0)
        manager = serial.rfc2217.PortManager(port, _Connection(client)) if self._rfc2217 else None
        try:
            while not self._stopping:
                ready, _, _ = select.select([client, port.fileno()], [], [], 0.05)
                if port.fileno() in ready:
                    data = port.read(4096)
                    client.sendall(b"".join(manager.escape(data)) if manager else data)
                if client in ready:
                    data = client.recv(4096)
                    if not data:
                        return
                    port.write(b"".join(manager.filter(data)) if manager else data)
        except OSError:
            return
        finally:
            client.close()
            port.close()
