"""Byte transports for the bridge protocol: one job each -- move bytes.

* :class:`SocketTransport` -- TCP to ``sgdma sim`` (or anything speaking the protocol);
* :class:`SerialTransport` -- a serial port through pyserial (any pyserial URL: a device path,
  ``socket://host:port``, ``loop://``);
* ``sgdma.sim.cocotb_transport.CocotbTransport`` -- inside a cocotb bench (lives in sim/: the
  driver never imports cocotb).

:func:`open_transport` opens one by URL: ``sim`` (starts a simulator and stops it on close;
``sim:lite`` the lite engine's SoC),
``tcp://host:port``, ``serial:///dev/ttyUSB0?baud=3000000``, ``serial://socket://host:port``.
"""

import socket
import time
import urllib.parse

__all__ = ["Transport", "SocketTransport", "SerialTransport", "open_transport", "TransportError"]


class TransportError(OSError):
    pass


class Transport:
    """``send(bytes)``; ``recv(timeout) -> bytes`` (``b""`` when nothing came in time); ``close()``.

    ``byte_time`` is the wire's seconds per byte (0: fast or unknown), used to size timeouts.
    """
    byte_time = 0.0
    name = "transport"

    def send(self, data):
        raise NotImplementedError

    def recv(self, timeout):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SocketTransport(Transport):
    def __init__(self, host, port, *, connect_timeout=10.0, on_close=None):
        self.name = f"tcp://{host}:{port}"
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise TransportError(f"cannot connect to {self.name}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_close = on_close

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise TransportError(f"{self.name}: send failed: {exc}") from None

    def recv(self, timeout):
        self.sock.settimeout(max(timeout, 1e-4))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            return b""
        except OSError as exc:
            raise TransportError(f"{self.name}: receive failed: {exc}") from None
        if not data:
            raise TransportError(f"{self.name}: the other side closed the connection")
        return data

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self._on_close is not None:
            self._on_close()
            self._on_close = None


class SerialTransport(Transport):
    def __init__(self, url, baud=3_000_000):
        import serial
        self.name = f"serial:{url}@{baud}"
        try:
            self.port = serial.serial_for_url(url, baudrate=baud, timeout=0)
        except (serial.SerialException, ValueError) as exc:
            raise TransportError(f"cannot open serial port {url!r}: {exc}") from None
        self.byte_time = 10.0 / baud

    def send(self, data):
        self.port.write(data)
        self.port.flush()

    def recv(self, timeout):
        end = time.monotonic() + timeout
        while True:
            data = self.port.read(self.port.in_waiting or 1)
            if data or time.monotonic() >= end:
                return bytes(data)
            time.sleep(min(0.0005, max(0.0, end - time.monotonic())))

    def close(self):
        self.port.close()


def open_transport(url, *, quiet=True):
    """A :class:`Transport` for ``url`` (see the module documentation)."""
    if url in ("sim", "sim:lite"):
        from ..sim.socsim import LITE, SimProcess
        sim = SimProcess(LITE if url == "sim:lite" else None, quiet=quiet)
        t = SocketTransport(sim.host, sim.port, on_close=sim.stop)
        t.sim = sim
        return t
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "tcp":
        if not parsed.hostname or not parsed.port:
            raise ValueError(f"tcp targets look like tcp://host:port, not {url!r}")
        return SocketTransport(parsed.hostname, parsed.port)
    if parsed.scheme == "serial":
        rest = url[len("serial://"):]
        rest, _, query = rest.partition("?")
        baud = int(urllib.parse.parse_qs(query).get("baud", ["3000000"])[0])
        if not rest:
            raise ValueError(f"serial targets look like serial:///dev/ttyUSB0?baud=3000000, not {url!r}")
        return SerialTransport(rest, baud)
    raise ValueError(f"unknown target {url!r}: use 'sim', 'sim:lite', 'tcp://host:port' or "
                     f"'serial:///dev/ttyUSB0?baud=N'")
