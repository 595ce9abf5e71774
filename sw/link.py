"""The host end of the bridge protocol: reliable MMIO over any :class:`~.transport.Transport`.

:class:`Link` keeps up to ``window`` frames in flight, checks every answer, and recovers from
anything the line does to it: on a NAK or a silent timeout it asks the bridge for its status
(which carries the sequence number it expects) and retransmits from the first unanswered
frame.  Retransmitted WRITEs that already ran are answered from the bridge's cache, never run
twice.  AXI errors are not line errors: they raise :class:`BusError` with the failing address.
"""

import itertools
import struct
import time

from .protocol import (MAGIC, MAX_WORDS, PROTOCOL_VERSION, DeviceStatus, Kind, Op, ResponseParser,
                       encode_request, request_size, response_size)

__all__ = ["Link", "LinkError", "BusError"]

_RESP_NAMES = {1: "EXOKAY", 2: "SLVERR", 3: "DECERR"}


class LinkError(IOError):
    """The bridge did not answer correctly after every retry."""


class BusError(IOError):
    """An MMIO access got a non-OKAY AXI response."""

    def __init__(self, op, addr, resp):
        self.op, self.addr, self.resp = op, addr, resp
        super().__init__(f"{op} at {addr:#010x} answered {_RESP_NAMES.get(resp, resp)}")


_EXPECT = {Op.READ: Kind.ACK_READ, Op.WRITE: Kind.ACK_WRITE, Op.STATUS: Kind.ACK_STATUS,
           Op.IRQ_MASK: Kind.ACK_STATUS}


class Link:
    """Reliable word access through the bridge.

    Parameters
    ----------
    transport : Transport
    timeout : float
        Seconds to wait for an answer beyond the wire time of the frames in flight.
    retries : int
        Recovery attempts per frame before :class:`LinkError`.
    window : int
        Frames in flight (the bridge buffers two full WRITE frames).
    """

    def __init__(self, transport, *, timeout=2.0, retries=8, window=2):
        if not 1 <= window <= 2:
            raise ValueError(f"window must be 1 or 2 (the bridge buffers two WRITE frames), not {window!r}")
        self.t = transport
        self.timeout, self.retries, self.window = timeout, retries, window
        self._parser = ResponseParser()
        self._frames = []
        self._nonce = itertools.count(1)
        self.irq = 0
        self.irq_callbacks = []
        self.stats = {"frames": 0, "retransmits": 0, "naks": 0, "timeouts": 0, "irq_frames": 0}
        st = self.status()
        if st.magic != MAGIC:
            raise LinkError(f"{transport.name}: not an sgdma bridge (magic {st.magic:#x})")
        if st.version != PROTOCOL_VERSION:
            raise LinkError(f"{transport.name}: bridge speaks protocol {st.version}, "
                            f"we speak {PROTOCOL_VERSION}")
        self._seq = st.expected_seq
        self.irq_lines = st.irq_lines

    # ---- receiving ----
    def _next_frame(self, deadline):
        while not self._frames:
            if not self._receive(deadline):
                return None
        return self._frames.pop(0)

    def _receive(self, deadline):
        """Read what the line has until ``deadline`` (False when it is past): IRQ frames are
        handled at once, answers queue in ``_frames``."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        for f in self._parser.feed(self.t.recv(left)):
            if f.kind == Kind.IRQ:
                self._irq_frame(f.words[0])
            else:
                self._frames.append(f)
        return True

    def _irq_frame(self, lines):
        self.stats["irq_frames"] += 1
        self.irq = lines
        for cb in list(self.irq_callbacks):
            cb(lines)

    def _wire_time(self, nbytes):
        return self.timeout + 3 * nbytes * self.t.byte_time

    def _quiet(self, seconds):
        """Send nothing for ``seconds`` (answers that arrive are dropped, IRQ frames kept): a
        partial frame in the bridge's receiver times out, and the next frame starts clean."""
        deadline = time.monotonic() + seconds
        while self._next_frame(deadline) is not None:
            pass

    def _control(self, op, arg=0):
        """STATUS / IRQ_MASK (unsequenced): every answer before ours is stale and dropped.
        Unanswered attempts back off (0.25 s doubling to 4 s of silence), so a bridge whose
        resync timeout is slower than ours -- a slow clock, a loaded simulator -- catches up."""
        quiet = 0.25
        for attempt in range(self.retries + 1):
            if attempt:
                self._quiet(quiet)
                quiet = min(2 * quiet, 4.0)
            nonce = next(self._nonce) & 0xFF
            self.t.send(encode_request(op, nonce, arg))
            deadline = time.monotonic() + self._wire_time(64)
            while True:
                f = self._next_frame(deadline)
                if f is None:
                    self.stats["timeouts"] += 1
                    break
                if f.kind == Kind.ACK_STATUS and f.seq == nonce:
                    return DeviceStatus.from_words(f.words)
        raise LinkError(f"{self.t.name}: no answer to {op.name} after {self.retries + 1} attempts")

    def status(self):
        """The bridge's :class:`~.protocol.DeviceStatus`."""
        return self._control(Op.STATUS)

    def irq_mask(self, mask):
        """Interrupt lines that send IRQ frames (0: none)."""
        return self._control(Op.IRQ_MASK, mask)

    def wait_irq(self, timeout):
        """Read the line until an IRQ frame arrives (True) or ``timeout`` passes (False)."""
        before = self.stats["irq_frames"]
        deadline = time.monotonic() + timeout
        while self.stats["irq_frames"] == before:
            if not self._receive(deadline):
                return False
        return True

    # ---- sequenced frames ----
    def _run(self, reqs):
        """Send ``[(op, addr, n, words)]`` in order with go-back-N recovery; their answers."""
        seqs = [(self._seq + i) & 0xFF for i in range(len(reqs))]
        self._seq = (self._seq + len(reqs)) & 0xFF
        frames = [encode_request(op, s, addr, n, words) for s, (op, addr, n, words) in zip(seqs, reqs)]
        out = [None] * len(reqs)
        base = sent = 0
        failures = 0
        while base < len(reqs):
            while sent < len(reqs) and sent - base < self.window:
                self.t.send(frames[sent])
                self.stats["frames"] += 1
                sent += 1
            op, _, n, _ = reqs[base]
            flight = sum(request_size(reqs[i][0], reqs[i][2]) + response_size(_EXPECT[reqs[i][0]], reqs[i][2])
                         for i in range(base, sent))
            f = self._next_frame(time.monotonic() + self._wire_time(flight))
            if f is not None and f.kind == _EXPECT[op] and f.seq == seqs[base] and f.n == n:
                out[base] = f
                base += 1
                failures = 0
                continue
            if f is not None and f.kind != Kind.NAK:
                continue                   # an answer we gave up on earlier: stale
            self.stats["naks" if f is not None else "timeouts"] += 1
            failures += 1
            if failures > self.retries:
                raise LinkError(f"{self.t.name}: frame {seqs[base]} ({op.name} at {reqs[base][1]:#x}) "
                                f"failed {failures} times")
            self.status()                  # drains every older answer
            self.stats["retransmits"] += sent - base
            sent = base
        return out

    def _chunks(self, addr, nwords):
        while nwords:
            n = min(nwords, MAX_WORDS)
            yield addr, n
            addr += 4 * n
            nwords -= n

    def read_words(self, addr, n):
        """``n`` 32-bit words from word-aligned ``addr``."""
        self._check(addr, n)
        reqs = [(Op.READ, a, k, ()) for a, k in self._chunks(addr, n)]
        words = []
        for (_, a, _, _), f in zip(reqs, self._run(reqs)):
            if f.axi_resp:
                raise BusError("read", a + 4 * f.info, f.axi_resp)
            words += f.words
        return words

    def write_words(self, addr, words):
        words = list(words)
        self._check(addr, len(words))
        if any(not 0 <= w < 1 << 32 for w in words):
            raise ValueError("words must be 32-bit unsigned integers")
        reqs = [(Op.WRITE, a, k, words[(a - addr) // 4:(a - addr) // 4 + k])
                for a, k in self._chunks(addr, len(words))]
        for (_, a, _, _), f in zip(reqs, self._run(reqs)):
            if f.axi_resp:
                raise BusError("write", a + 4 * f.info, f.axi_resp)

    @staticmethod
    def _check(addr, n):
        if addr % 4 or not 0 <= addr < 1 << 32:
            raise ValueError(f"address {addr!r} must be a word-aligned 32-bit address")
        if n < 1 or addr + 4 * n > 1 << 32:
            raise ValueError(f"{n} words at {addr:#x} do not fit in the 32-bit address space")

    def read32(self, addr):
        return self.read_words(addr, 1)[0]

    def write32(self, addr, value):
        self.write_words(addr, [value])

    def read_bytes(self, addr, n):
        """``n`` bytes from any address (whole words are read around it)."""
        if n == 0:
            return b""
        start, end = addr & ~3, (addr + n + 3) & ~3
        data = struct.pack(f"<{(end - start) // 4}I", *self.read_words(start, (end - start) // 4))
        return data[addr - start:addr - start + n]

    def write_bytes(self, addr, data):
        """Write ``data`` at any address; partial edge words are read, merged and written back."""
        data = bytes(data)
        if not data:
            return
        start, end = addr & ~3, (addr + len(data) + 3) & ~3
        if start != addr or end != addr + len(data):
            head = self.read_words(start, 1) if start != addr else None
            tail = self.read_words(end - 4, 1) if end != addr + len(data) else None
            buf = bytearray(end - start)
            if head:
                buf[0:4] = struct.pack("<I", head[0])
            if tail:
                buf[-4:] = struct.pack("<I", tail[0])
            buf[addr - start:addr - start + len(data)] = data
            data = bytes(buf)
        self.write_words(start, struct.unpack(f"<{len(data) // 4}I", data))

    def close(self):
        self.t.close()
