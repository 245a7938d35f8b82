"""A TCP relay in front of the test database that the fault schedule can cut.

Stopping the real server costs about a second; the schedules need outages by the hundred. Through the
relay an outage looks the same to a client: new connections are dropped at once and live ones are
reset, optionally only after k more connections succeed (an outage in the middle of a step). TLS
passes through untouched, end to end.
"""

from __future__ import annotations

import socket
import threading


class Proxy:
    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._allow: int | None = None  # None: up; n: n more connections, then down
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.sent = bytearray()  # what clients sent, while `recording` (to prove what never crossed the wire)
        self.recording = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def is_up(self) -> bool:
        return self._allow is None

    def record(self) -> None:
        """Keep what clients send from now on, in `sent`."""
        self.sent, self.recording = bytearray(), True

    def up(self) -> None:
        self._allow = None

    def down(self, after: int = 0) -> None:
        """Refuse connections once `after` more have been let through; reset live ones now if after == 0."""
        self._allow = after
        if after == 0:
            with self._lock:
                live, self._live = self._live, set()
            for sock in live:
                _close(sock)

    def close(self) -> None:
        self.down()
        _close(self.listener)

    def _admit(self) -> bool:
        with self._lock:
            if self._allow is None:
                return True
            if self._allow > 0:
                self._allow -= 1
                return True
            return False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._admit():
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            for sock in (client, server):  # no Nagle delay on relayed round trips
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._live |= {client, server}
            for a, b, tap in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(a, b, tap), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, tap: bool) -> None:
        try:
            while data := src.recv(65536):
                if tap and self.recording:
                    self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with self._lock:
                    self._live.discard(sock)
                _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
