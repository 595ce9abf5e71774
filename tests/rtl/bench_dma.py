"""cocotb benches of the DMA engine (tests/rtl/test_dma.py)."""

import cocotb

from sgdma.sim.dmatb import DmaTB, desc_bytes  # noqa: I001
from sgdma.sw.formats import ErrorCode, Status


@cocotb.test()
async def smoke(dut):
    tb = DmaTB(dut)
    await tb.start()
    ring = await tb.setup_ring(0, 0x1000)
    data = bytes(range(256)) * 2
    tb.mem_write(0x10003, data[:300])
    i = ring.put(desc_bytes(src=0x10003, dst=0x20005, length=300))
    await ring.doorbell()
    await tb.wait_head(ring, i + 1, timeout=5000)
    rec = ring.completion(i)
    assert rec["status"] == Status.DONE and rec["code"] == ErrorCode.NONE and rec["bytes"] == 300, rec
    assert tb.mem_read(0x20005, 300) == data[:300]
    assert tb.mem_read(0x20004, 1) == b"\0" and tb.mem_read(0x20005 + 300, 1) == b"\0"


import os
import random

from cocotb.triggers import ClockCycles, RisingEdge

from sgdma.sim.dmatb import Allocator, Shadow, random_descriptor
from sgdma.sim.tb import rng
from sgdma.sw.formats import Completion, Descriptor
from sgdma.sw.model import execute

COMPLETION_AT = Descriptor.byte_offset("completion")


def explain(got, want, expected):
    """Differing byte ranges, and the descriptors whose destination covers them."""
    from sgdma.sw.model import fragments
    bad = [i for i in range(len(want)) if got[i] != want[i]]
    ranges = []
    for i in bad:
        if ranges and i == ranges[-1][1]:
            ranges[-1][1] = i + 1
        else:
            ranges.append([i, i + 1])
    lines = [f"{len(bad)} bytes in {len(ranges)} ranges"]
    for a, b in ranges[:8]:
        lines.append(f"  [{a:#x}, {b:#x}): got {got[a:min(b, a + 16)].hex()} want {bytes(want[a:min(b, a + 16)]).hex()}")
        for ring, raw, out in expected:
            d = Descriptor.unpack(raw)
            for fa, fn in fragments(d, "dst", _Reader(want)):
                if fa < b and a < fa + fn:
                    lines.append(f"    ch{ring.ch} dst fragment [{fa:#x}, +{fn}) of {d}")
                    break
    return "\n".join(lines)


class _Reader:
    def __init__(self, data):
        self.data = data

    def read(self, addr, n):
        return bytes(self.data[addr:addr + n])


async def set_memory_model(tb, r):
    """Random latency (0..64) and random stalls on all five channels."""
    dut = tb.dut
    dut.read_latency.value = r.choice([0, 1, r.randrange(0, 65)])
    dut.write_latency.value = r.choice([0, 2, r.randrange(0, 65)])
    dut.stall.value = r.choice([0, 0, 40, 128, r.randrange(0, 200)])
    dut.seed.value = r.getrandbits(32)
    dut.load.value = 1
    await RisingEdge(dut.clk)
    dut.load.value = 0


@cocotb.test()
async def random_transfers(dut):
    """Random COPY / SG / N-D / FILL descriptors on every channel at once, against the
    reference model; the whole memory (guard bytes between all blocks) compared after each
    phase."""
    tb = DmaTB(dut)
    await tb.start()
    r = rng("random_transfers")
    soak = int(os.environ.get("SGDMA_SOAK", "1"))
    phases = tb.p.get("phases", 4) * soak
    per_channel = tb.p.get("per_channel", 30)
    shadow = Shadow(tb.mem_size)
    shadow.write(0, r.randbytes(tb.mem_size))
    tb.mem_write(0, shadow.data)
    ring_log2 = 6
    rings = []
    for ch in range(tb.channels):
        base = 0x1000 + ch * (64 << ring_log2)
        rings.append(await tb.setup_ring(ch, base, ring_log2))
        shadow.write(base, bytes(64 << ring_log2))
    heap = 0x1000 + tb.channels * (64 << ring_log2)
    kinds = {}
    total = 0
    for phase in range(phases):
        await set_memory_model(tb, r)
        alloc = Allocator(r, heap, tb.mem_size)

        def write(addr, data):
            shadow.write(addr, data)
            tb.mem_write(addr, data)

        batches = []
        for ring in rings:
            batch = []
            for _ in range(r.randrange(per_channel // 2, per_channel + 1)):
                raw, kind = random_descriptor(r, alloc, write)
                kinds[kind] = kinds.get(kind, 0) + 1
                batch.append(raw)
            batches.append(batch)
        # the model: blocks are disjoint, so channel order does not matter
        expected = []
        for ring, batch in zip(rings, batches):
            for raw in batch:
                out = execute(raw, shadow)
                assert out.status == Status.DONE, out
                expected.append((ring, raw, out))

        async def feed(ring, batch):
            # doorbells in random chunks, sometimes while the engine is busy
            i = 0
            while i < len(batch):
                n = r.randrange(1, len(batch) - i + 1)
                for raw in batch[i:i + n]:
                    slot = ring.slot(ring.tail)
                    ring.put(raw)
                    shadow.write(slot, raw)
                await ring.doorbell()
                i += n
                await ClockCycles(dut.clk, r.choice([1, 10, 200]))
            await tb.wait_head(ring, ring.tail, timeout=2_000_000)

        tasks = [cocotb.start_soon(feed(ring, batch)) for ring, batch in zip(rings, batches)]
        for t in tasks:
            await t
        # completion records: status, bytes; then they are part of the expected memory
        ring_slots = {}
        for ring, batch in zip(rings, batches):
            first = (ring.tail - len(batch)) % ring.size
            for k, raw in enumerate(batch):
                ring_slots[(ring.ch, k)] = ring.slot(first + k)
        idx = {ring.ch: 0 for ring in rings}
        for ring, raw, out in expected:
            slot = ring_slots[(ring.ch, idx[ring.ch])]
            idx[ring.ch] += 1
            rec = ring.completion((slot - ring.base) // 64)
            assert rec["status"] == Status.DONE and rec["code"] == ErrorCode.NONE, \
                f"channel {ring.ch} slot {slot:#x}: {rec}"
            assert rec["bytes"] == out.bytes, f"channel {ring.ch} slot {slot:#x}: {rec['bytes']} != {out.bytes}"
            shadow.write(slot + COMPLETION_AT, Completion.pack(status=Status.DONE, bytes=out.bytes))
        got = tb.mem_read(0, tb.mem_size)
        if got != bytes(shadow.data):
            raise AssertionError(f"phase {phase}: memory differs from the model\n" +
                                 explain(got, shadow.data, expected))
        total += len(expected)
        tb.watch.check()
    dut._log.info(f"{total} transfers verified: {kinds}")

