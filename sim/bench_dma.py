"""cocotb bench: DMA engine throughput and latency (run by ``make bench``).

Throughput benches submit a batch of back-to-back descriptors with one doorbell and count
cycles from the doorbell to the last completion record landing in memory (its final W beat;
``cycles_to_record_b`` adds the write response).  Hardware timestamps from the perf counters
on the engine's port make the counts exact.  Latency
benches submit one descriptor alone.  Memory latency is 32 cycles unless stated.
"""

import os
import random

import cocotb
from cocotb.triggers import RisingEdge

from .dmatb import DmaTB, desc_bytes, sg_bytes
from .tb import bench_record, params

P = params()
LITE = P.get("lite", False)         # the lite engine (one channel, 32 bits): its records say so
WB = 4 if LITE else P.get("data_width", 64) // 8
RING, RING_LOG2 = 0x0, 13
SRC, DST, MISC = 0x100000, 0x280000, 0x3C0000


def record(bench, params_, nbytes, cycles, **extra):
    """``cycles`` is :meth:`Bench.batch`'s pair (to the record in memory, to its B)."""
    cycles, to_b = cycles
    if LITE:
        params_ = dict(params_, engine="lite")
    return bench_record(bench, params_, nbytes, cycles, WB, cycles_to_record_b=to_b, **extra)


class Bench:
    def __init__(self, dut):
        self.dut = dut
        self.tb = DmaTB(dut)
        self.r = random.Random(1)

    async def start(self):
        await self.tb.start()
        self.ring = await self.tb.setup_ring(0, RING, RING_LOG2)

    def latency(self, cycles):
        self.dut.read_latency.value = cycles
        self.dut.write_latency.value = cycles

    async def batch(self, descs):
        """Run the descriptors as one batch.  Returns the cycles from the doorbell (the perf
        counters restart the cycle before the doorbell write) until the last completion record
        is in memory (its final W beat: what a polling CPU sees), and until its B response."""
        ring, tb, dut = self.ring, self.tb, self.dut
        first = ring.tail
        for raw in descs:
            ring.put(raw)
        last = (ring.tail - 1) % ring.size
        dut.perf_clear.value = 1
        await RisingEdge(dut.clk)
        dut.perf_clear.value = 0
        await ring.doorbell()
        await tb.wait_done(ring, last, timeout=50_000_000, poll=256)
        await tb.wait_head(ring, ring.tail, poll=16)     # the last record's B has arrived too
        for k in range(len(descs)):
            rec = ring.completion(first + k)
            assert rec["status"] == 1, f"descriptor {k}: {rec}"
        ring.head = ring.tail
        return int(dut.perf_w_last.value) + 1, int(dut.perf_b_last.value) + 1

    def fill(self, addr, n):
        data = self.r.randbytes(n)
        self.tb.mem_write(addr, data)
        return data


async def memcpy(b, size, src_off, dst_off, latency, name="memcpy", count=None):
    b.latency(latency)
    count = count or max(16, min((256 << 10) // size, (1 << RING_LOG2) - 1))
    data = b.fill(SRC + src_off, size)
    b.tb.mem_write(DST + dst_off, bytes(size))
    cycles = await b.batch([desc_bytes(src=SRC + src_off, dst=DST + dst_off, length=size)] * count)
    assert b.tb.mem_read(DST + dst_off, size) == data, f"{name} {size}: data mismatch"
    return record(name, {"size": size, "count": count, "mem_latency": latency, "src_offset": src_off,
                         "dst_offset": dst_off, "data_width": WB * 8}, size * count, cycles)


@cocotb.test()
async def dma_benches(dut):
    b = Bench(dut)
    await b.start()
    only = os.environ.get("SGDMA_BENCH_ONLY", "")

    def want(name):
        # the lite engine runs the sweeps that say what it is for, in a few minutes
        if LITE and name not in ("memcpy", "latency_64", "small_desc", "column"):
            return False
        return not only or only in name

    if want("memcpy"):
        # (the lite engine moves half a byte a cycle: its sweep stops at 16 KiB)
        for size in (64, 256, 1024, 4096, 16384) + (() if LITE else (65536, 262144, 1 << 20)):
            for so, do in ((0, 0), (3, 5)):
                await memcpy(b, size, so, do, 32)
        for size in (4096, 65536):       # the peers' harness: zero-latency memory
            await memcpy(b, size, 0, 0, 0)
            await memcpy(b, size, 0, 0, 0, count=1)
    if want("mem_latency"):
        for lat in (0, 32, 128):
            await memcpy(b, 65536, 0, 0, lat, name="mem_latency")
    if want("latency_64"):
        b.latency(32)
        b.fill(SRC, 64)
        cycles = await b.batch([desc_bytes(src=SRC, dst=DST, length=64)])
        record("latency_64", {"size": 64, "mem_latency": 32, "data_width": WB * 8,
                              "target_cycles": 2 * 32 + 2 * 32 + 40}, 64, cycles)
    if want("small_desc"):
        for lat in (32, 0):
            b.latency(lat)
            n = 256
            for k in range(n):
                b.fill(SRC + 64 * k, 64)
            cycles = await b.batch([desc_bytes(src=SRC + 64 * k, dst=DST + 64 * k, length=64)
                                    for k in range(n)])
            bound = 64 / (64 + 64) * WB
            record("small_desc", {"size": 64, "count": n, "mem_latency": lat, "data_width": WB * 8},
                   64 * n, cycles, bound_bytes_per_cycle=bound)
    if want("sg"):
        b.latency(32)
        descs = []
        r = b.r
        pages = r.sample(range(SRC // 4096, (SRC + (1 << 20)) // 4096), 16)
        src_entries = [(p * 4096, 4096) for p in pages]
        for p in pages:
            b.fill(p * 4096, 4096)
        cuts = sorted(r.sample(range(1, 65536), 6))
        lens = [y - x for x, y in zip([0] + cuts, cuts + [65536])]
        dst_entries, at = [], DST
        for n in lens:
            at += r.randrange(1, 300)
            dst_entries.append((at, n))
            at += n
        b.tb.mem_write(MISC, sg_bytes(src_entries))
        b.tb.mem_write(MISC + 0x1000, sg_bytes(dst_entries))
        count = 16
        descs = [desc_bytes(src=MISC, dst=MISC + 0x1000, length=65536, src_sgl=1, dst_sgl=1,
                            sg=dict(src_count=16, dst_count=7))] * count
        cycles = await b.batch(descs)
        gathered = b"".join(b.tb.mem_read(a, n) for a, n in src_entries)
        assert b"".join(b.tb.mem_read(a, n) for a, n in dst_entries) == gathered, "sg: data mismatch"
        record("sg", {"size": 65536, "count": count, "src_fragments": 16, "dst_fragments": 7,
                      "mem_latency": 32, "data_width": WB * 8}, 65536 * count, cycles)
    if want("column"):
        b.latency(32)
        matrix = 0x400000                       # 1024 x 1024 u32, row stride 4096
        count = 16
        descs = []
        for c in range(count):
            descs.append(desc_bytes(src=matrix + 4 * c, dst=DST + 4096 * c, length=4, ndim=2,
                                    nd=dict(src_stride0=4096, dst_stride0=4, count0=1024, count1=1)))
        for row in range(0, 1024, 97):
            b.fill(matrix + row * 4096, 64)
        cycles = await b.batch(descs)
        for row in range(0, 1024, 97):
            for c in (0, 5, 15):
                element = b.tb.mem_read(matrix + row * 4096 + 4 * c, 4)
                assert b.tb.mem_read(DST + 4096 * c + 4 * row, 4) == element, "column: data mismatch"
        elements = 1024 * count
        record("column", {"rows": 1024, "stride": 4096, "element": 4, "count": count, "mem_latency": 32,
                          "data_width": WB * 8}, 4 * elements, cycles,
               elements_per_cycle=round(elements / cycles[0], 4))
    if want("yuv420"):
        b.latency(32)
        w, h = 1920, 1080
        ys, cs = (w + 64 + 63) // 64 * 64, (w // 2 + 64 + 63) // 64 * 64   # padded strides
        y_at, u_at = 0x100000, 0x100000 + ys * h
        v_at = u_at + cs * (h // 2)
        out = 0x500000
        planes = [(y_at, w, h, ys), (u_at, w // 2, h // 2, cs), (v_at, w // 2, h // 2, cs)]
        descs, at = [], out
        for base, pw, ph, stride in planes:
            descs.append(desc_bytes(src=base, dst=at, length=pw, ndim=2,
                                    nd=dict(src_stride0=stride, dst_stride0=pw, count0=ph, count1=1)))
            at += pw * ph
        for base, pw, ph, stride in planes:
            for row in (0, ph // 2, ph - 1):
                b.fill(base + row * stride, pw)
        cycles = await b.batch(descs)
        at = out
        for base, pw, ph, stride in planes:
            for row in (0, ph // 2, ph - 1):
                assert b.tb.mem_read(at + row * pw, pw) == b.tb.mem_read(base + row * stride, pw), "yuv"
            at += pw * ph
        total = w * h * 3 // 2
        record("yuv420", {"width": w, "height": h, "y_stride": ys, "c_stride": cs, "count": 3,
                          "mem_latency": 32, "data_width": WB * 8}, total, cycles)
    if want("stall"):
        b.dut.stall.value = 128            # every channel's ready low half the time
        b.dut.seed.value = 7
        b.dut.load.value = 1
        await RisingEdge(dut.clk)
        b.dut.load.value = 0
        await memcpy(b, 65536, 0, 0, 0, name="memcpy_stall50")
        b.dut.stall.value = 0
    b.tb.watch.check()
