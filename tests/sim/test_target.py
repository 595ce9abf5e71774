"""The driver against the simulated SoC over its socket (the bytes a board's UART carries):
every operation against the reference model, status/pause/terminate, typed errors,
validation, and the bridge under attack -- corrupt, truncated, duplicated frames and garbage."""

import os
import random
import re
import socket
import subprocess
import sys
import time

import pytest

from sgdma.sim.socsim import SimProcess
from sgdma.sw.driver import (FENCE, INTERRUPT, AbortedError, AllocationError, Chunk, Device,
                             InterleavedTemplate,
                             ReadError, Result, TxState, WriteError, model_execute)
from sgdma.sw.link import Link
from sgdma.sw.model import FlatMemory
from sgdma.sw.protocol import DUPLICATE, Kind, Nak, Op, ResponseParser, encode_request
from sgdma.sw.transport import SocketTransport, Transport, open_transport

HOLE = 0x3000_0000


def _seed():
    seed = int(os.environ.get("SGDMA_SEED", random.randrange(1 << 31)))
    print(f"seed={seed} (replay: SGDMA_SEED={seed})")
    return seed


@pytest.fixture(scope="module")
def sim():
    with SimProcess(quiet=True, once=False) as s:
        yield s


@pytest.fixture
def dev(sim):
    d = Device(SocketTransport(sim.host, sim.port))
    yield d
    d.close()


class Shadowed:
    """A device with a model shadow of the buffers the test touches."""

    def __init__(self, dev, rng):
        self.dev, self.rng = dev, rng
        self.shadow = FlatMemory(dev.mem_size)

    def buffer(self, size, align=1):
        b = self.dev.alloc(size, align)
        data = self.rng.randbytes(size)
        b.write(data)
        self.shadow.write(b.addr, data)
        return b


def test_operations_against_the_model(dev):
    rng = random.Random(_seed())
    s = Shadowed(dev, rng)
    bufs = [s.buffer(rng.randrange(600, 5000), align=rng.choice([1, 4, 64])) for _ in range(10)]
    chans = [dev.channel(k) for k in range(dev.n_channels)]
    txs = []
    for _ in range(40):
        chan = rng.choice(chans)
        a, b = rng.sample(bufs, 2)
        kind = rng.randrange(4)
        if kind == 0:
            n = rng.randrange(1, min(a.size, b.size))
            oa, ob = rng.randrange(a.size - n + 1), rng.randrange(b.size - n + 1)
            tx = chan.prep_memcpy(b[ob:ob + n], a[oa:oa + n], n, flags=rng.choice([0, INTERRUPT, FENCE]))
        elif kind == 1:
            n = rng.randrange(1, b.size)
            o = rng.randrange(b.size - n + 1)
            tx = chan.prep_fill(b[o:o + n], rng.randbytes(rng.choice([1, 2, 4, 8])), n)
        elif kind == 2:
            pieces = rng.randrange(1, 5)
            sizes = [rng.randrange(1, 150) for _ in range(pieces)]
            total = sum(sizes)
            src = []
            for n in sizes:
                x = rng.choice(bufs)
                o = rng.randrange(x.size - n)
                src.append(x[o:o + n])
            cut = sorted(rng.sample(range(1, total), min(total - 1, rng.randrange(0, 4))))
            edges = [0] + cut + [total]
            dst = []
            for lo, hi in zip(edges, edges[1:]):
                o = rng.randrange(b.size - (hi - lo))
                dst.append(b[o:o + hi - lo])
            if any(x.addr < y.addr + y.length and y.addr < x.addr + x.length for x in src for y in dst):
                continue            # overlapping source and destination: order is undefined
            d_ranges = sorted((x.addr, x.addr + x.length) for x in dst)
            if any(lo2 < hi1 for (_, hi1), (lo2, _) in zip(d_ranges, d_ranges[1:])):
                continue
            tx = chan.prep_sg(dst, src)
        else:
            rows, w = rng.randrange(1, 12), rng.randrange(1, 40)
            gs, gd = rng.randrange(0, 20), rng.randrange(0, 20)
            if rows * (w + gs) > a.size or rows * (w + gd) > b.size:
                continue
            t = InterleavedTemplate(a.addr, b.addr, rows, (Chunk(w, src_icg=gs, dst_icg=gd),))
            tx = chan.prep_interleaved(t)
        if a is b:
            continue
        reads = {x for d in tx.descs for x in _spans(d, "src")}
        writes = {x for d in tx.descs for x in _spans(d, "dst")}
        if any(r[0] < w[1] and w[0] < r[1] for r in reads for w in writes):
            continue
        txs.append((chan, tx, tx.submit()))
        chan.issue_pending()
        chan.wait(txs[-1][2])       # one at a time: the model runs them in this order
        model_execute(tx, s.shadow)
    assert len(txs) > 20
    for b in bufs:
        assert b.read() == s.shadow.read(b.addr, b.size), b


def _spans(d, side):
    from sgdma.sw.driver import descriptor_regions
    reads, writes = descriptor_regions(d)
    return [(a, a + n) for a, n in (reads if side == "src" else writes)]


def test_status_pause_resume_callbacks_terminate(dev):
    chan = dev.channel(1)
    src, dst = dev.alloc(256 << 10), dev.alloc(256 << 10)
    results = []
    chan.pause()
    tx = chan.prep_memcpy(dst, src, 256 << 10, flags=INTERRUPT)
    tx.callback = results.append
    cookie = tx.submit()
    assert chan.tx_status(cookie) == (TxState.PAUSED, 256 << 10)   # submitted to a paused channel
    chan.issue_pending()
    time.sleep(0.2)
    assert chan.tx_status(cookie) == (TxState.PAUSED, 256 << 10)
    chan.resume()
    assert chan.wait(cookie).result == Result.NOERROR
    assert chan.tx_status(cookie) == (TxState.COMPLETE, 0)
    assert [r.result for r in results] == [Result.NOERROR]
    # terminate_all aborts what has not run
    chan.pause()
    aborted = []
    cookies = []
    for _ in range(3):
        t = chan.prep_memcpy(dst, src, 4096)
        t.callback = aborted.append
        cookies.append(t.submit())
    chan.issue_pending()
    chan.terminate_all()
    assert [r.result for r in aborted] == [Result.ABORTED] * 3
    assert chan.tx_status(cookies[0])[0] == TxState.ERROR
    with pytest.raises(AbortedError):
        chan.wait(cookies[1])
    c = chan.prep_memcpy(dst, src, 4096).submit()
    chan.issue_pending()
    chan.wait(c)


def test_bus_errors_are_typed_and_later_work_is_aborted(dev):
    assert dev.addr_bits == 32 and dev.unmapped(8192) == HOLE    # the config register's
    chan = dev.channel(2)
    hole = dev.raw(HOLE, 8192)
    src, dst = dev.alloc(8192), dev.alloc(8192)
    src.write(bytes(range(256)) * 32)
    before = dst.read()
    bad = chan.prep_memcpy(dst, hole, 8192).submit()
    later = chan.prep_memcpy(dst, src, 8192).submit()
    chan.issue_pending()
    with pytest.raises(ReadError) as info:
        chan.wait(bad)
    assert info.value.addr == HOLE and info.value.code.name == "READ_DECERR"
    assert info.value.descriptor["src"] == HOLE
    with pytest.raises(AbortedError):
        chan.wait(later)
    assert dst.read() == before
    c = chan.prep_memcpy(hole, src, 4096).submit()
    chan.issue_pending()
    with pytest.raises(WriteError) as info:
        chan.wait(c)
    assert info.value.addr == HOLE
    c = chan.prep_memcpy(dst, src, 8192).submit()
    chan.issue_pending()
    chan.wait(c)
    assert dst.read() == src.read()


def test_bad_arguments_submit_nothing(dev):
    chan = dev.channel(3)
    a, b = dev.alloc(1024), dev.alloc(1024)
    tail = chan.regs.tail.index
    stranger = type(a)(dev, 0x100000, 64, owned=False)       # a buffer the allocator never gave out
    bad = [
        lambda: chan.prep_memcpy(b, a, -1),
        lambda: chan.prep_memcpy(b, a, 0),
        lambda: chan.prep_memcpy(b, a, 2048),
        lambda: chan.prep_memcpy(b, stranger, 64),
        lambda: chan.prep_memcpy(b[1000:1024], a, 100),
        lambda: chan.prep_sg([b[0:10]], [a[0:11]]),
        lambda: chan.prep_sg([], [a[0:11]]),
        lambda: chan.prep_fill(b, b"abc", 10),
        lambda: chan.prep_fill(b, 300, 10),
        lambda: chan.prep_memcpy(b, a, 10, flags=0x80),
        lambda: chan.prep_interleaved(InterleavedTemplate(a.addr, b.addr, 100, (Chunk(64, src_icg=8),))),
        lambda: chan.prep_memcpy(b, "a", 10),
        lambda: chan.prep_sg([b[0:64]], [stranger]),                       # one-fragment SG side
        # 64 different chunk positions: 64 descriptors, more than the ring holds at once
        lambda: chan.prep_interleaved(InterleavedTemplate(
            a.addr, b.addr, 1, tuple(Chunk(1 + k % 2, src_icg=k % 3) for k in range(64)))),
    ]
    for f in bad:
        with pytest.raises((ValueError, TypeError)):
            f()
    a.free()
    with pytest.raises(ValueError, match="freed"):
        chan.prep_memcpy(b, a, 10)
    with pytest.raises(ValueError, match="double free|already freed"):
        a.free()
    with pytest.raises(AllocationError):
        dev.alloc(dev.mem_size)
    assert chan.regs.tail.index == tail and not chan._submitted


# ---------------------------------------------------------------- the bridge under attack ----

class Raw:
    """Raw frames to the bridge, answers parsed."""

    def __init__(self, sim):
        self.t = SocketTransport(sim.host, sim.port)
        self.p = ResponseParser()

    def answers(self, wait=0.3):
        out, end = [], time.monotonic() + wait
        while time.monotonic() < end:
            out += self.p.feed(self.t.recv(end - time.monotonic()))
        return [f for f in out if f.kind != Kind.IRQ]


def test_corrupt_truncated_and_garbage_frames_are_never_executed(sim):
    rng = random.Random(_seed())
    link = Link(SocketTransport(sim.host, sim.port), timeout=1.0)
    base = 0x80000
    reference = [rng.randrange(1 << 32) for _ in range(64)]
    link.write_words(base, reference)
    st0 = link.status()
    link.close()
    raw = Raw(sim)
    seq = st0.expected_seq
    nak_crc = 0
    for trial in range(60):
        words = [rng.randrange(1 << 32) for _ in range(64)]
        frame = bytearray(encode_request(Op.WRITE, seq, base, words=words))
        how = trial % 3
        if how == 0:          # bit flips anywhere after the sync byte
            for _ in range(rng.randrange(1, 4)):
                frame[rng.randrange(1, len(frame))] ^= 1 << rng.randrange(8)
        elif how == 1:        # truncated: the bridge times out and hunts again
            frame = frame[:rng.randrange(1, len(frame) - 1)]
        else:                 # a corrupt frame between garbage
            frame[rng.randrange(8, len(frame))] ^= 0x10
            frame = rng.randbytes(rng.randrange(1, 30)) + frame + rng.randbytes(rng.randrange(1, 30))
        raw.t.send(bytes(frame))
        for a in raw.answers(0.05 if how != 1 else 0.0):
            assert a.kind == Kind.NAK, a          # never an ACK: nothing was executed
            nak_crc += a.resp == Nak.CRC
    # late answers (a loaded machine runs the simulator slowly): still only NAKs
    late = raw.answers(2.0)
    assert all(a.kind == Kind.NAK for a in late), late
    nak_crc += sum(a.resp == Nak.CRC for a in late)
    # a truncated frame and silence: the bridge drops it after its timeout (65,536 cycles)
    raw.t.send(encode_request(Op.WRITE, seq, base, words=[0] * 64)[:100])
    assert all(a.kind == Kind.NAK for a in raw.answers(3.0))
    raw.t.close()
    # what is left in the bridge's receiver is junk; the link resynchronizes and memory is intact
    link = Link(SocketTransport(sim.host, sim.port), timeout=1.0)
    assert link.read_words(base, 64) == reference
    st = link.status()
    assert st.crc_errors > st0.crc_errors and st.timeouts > st0.timeouts
    assert nak_crc > 0
    link.close()


def test_retransmitted_write_is_not_run_twice(sim):
    link = Link(SocketTransport(sim.host, sim.port))
    seq = link.status().expected_seq
    link.close()
    raw = Raw(sim)
    a = encode_request(Op.WRITE, seq, 0x90000, words=[0x11111111])
    raw.t.send(a)
    (ack,) = raw.answers(0.3)
    assert ack.kind == Kind.ACK_WRITE and ack.seq == seq and not ack.duplicate
    raw.t.send(encode_request(Op.WRITE, seq + 1, 0x90000, words=[0x22222222]))
    raw.t.send(a)                                       # the first frame again (its ACK "was lost")
    acks = raw.answers(0.3)
    assert [(x.kind, x.seq, bool(x.resp & DUPLICATE)) for x in acks] == [
        (Kind.ACK_WRITE, (seq + 1) & 0xFF, False), (Kind.ACK_WRITE, seq, True)]
    raw.t.send(encode_request(Op.WRITE, seq + 5, 0x90000, words=[0x33333333]))   # from the future
    (nak,) = raw.answers(0.3)
    assert nak.kind == Kind.NAK and nak.resp == Nak.SEQUENCE
    raw.t.close()
    link = Link(SocketTransport(sim.host, sim.port))
    assert link.read32(0x90000) == 0x22222222
    link.close()


class Chaos(Transport):
    """Corrupts, truncates and drops bytes in both directions."""

    def __init__(self, inner, rng, p=0.08):
        self.inner, self.rng, self.p = inner, rng, p
        self.name = "chaos"
        self.events = 0

    def _mangle(self, data):
        data = bytearray(data)
        if data and self.rng.random() < self.p:
            self.events += 1
            what = self.rng.randrange(3)
            if what == 0:
                data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
            elif what == 1:
                del data[self.rng.randrange(len(data)):]
            else:
                data = bytearray(self.rng.randbytes(self.rng.randrange(1, 8))) + data
        return bytes(data)

    def send(self, data):
        self.inner.send(self._mangle(data))

    def recv(self, timeout):
        return self._mangle(self.inner.recv(timeout))

    def close(self):
        self.inner.close()


def test_link_recovers_from_a_hostile_line(sim):
    rng = random.Random(_seed())
    link = Link(SocketTransport(sim.host, sim.port))
    base = 0xA0000
    truth = bytearray(rng.randbytes(12000))
    link.write_bytes(base, truth)
    link.close()
    chaos = Chaos(SocketTransport(sim.host, sim.port), rng)
    bad = Link(chaos, timeout=1.5, retries=30)

    def recoveries():
        return bad.stats["retransmits"] + bad.stats["naks"] + bad.stats["timeouts"]

    try:
        # at least 12 transfers, and on until the line has done damage the link had to repair
        # (a lucky seed may leave the first few frames alone)
        ops = 0
        while ops < 12 or ((chaos.events < 3 or recoveries() == 0) and ops < 300):
            ops += 1
            off, n = rng.randrange(0, 11000), rng.randrange(1, 1000)
            if rng.random() < 0.5:
                data = rng.randbytes(n)
                bad.write_bytes(base + off, data)
                truth[off:off + n] = data
            else:
                assert bad.read_bytes(base + off, n) == bytes(truth[off:off + n])
        assert chaos.events >= 3 and recoveries() > 0, (ops, chaos.events, bad.stats)
    finally:
        bad.close()
    link = Link(SocketTransport(sim.host, sim.port))
    assert link.read_bytes(base, len(truth)) == bytes(truth)
    link.close()


def test_serial_transport_and_cli(sim):
    t = open_transport(f"serial://socket://{sim.host}:{sim.port}?baud=3000000")
    link = Link(t)
    link.write32(0xB0000, 0xCAFEF00D)
    assert link.read32(0xB0000) == 0xCAFEF00D
    link.close()
    proc = subprocess.Popen([sys.executable, "-m", "sgdma.sw.cli", "sim", "--once"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.search(r"127\.0\.0\.1:(\d+)", proc.stdout.readline())[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(encode_request(Op.STATUS, 7, 0))
            s.settimeout(10)
            (ack,) = ResponseParser().feed(s.recv(100))
            assert ack.kind == Kind.ACK_STATUS and ack.seq == 7
    finally:
        proc.wait(timeout=20)
