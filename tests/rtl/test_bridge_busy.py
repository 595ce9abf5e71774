"""The bridge's ``busy`` (Amaranth simulator): high on every cycle from a request's first
byte until the last byte of its answer has left -- the socket simulator sleeps in any cycle
the SoC looks quiet with no input (a one-cycle gap between a frame's CRC verdict and its
command reaching the queue cost every MMIO round trip 200 ms, ~5 per second).  Frames:
READ, WRITE of several words, STATUS, and a READ with a corrupt CRC (answered with a NAK);
the link brings a byte every 1 or 2 cycles; the AXI4-Lite side answers after a few cycles."""

import pytest
from amaranth.sim import Simulator

from sgdma.rtl.bridge import Bridge
from sgdma.sw.protocol import Op, ResponseParser, encode_request

FRAMES = {
    "read": encode_request(Op.READ, 1, 0x100, 3),
    "write": encode_request(Op.WRITE, 2, 0x200, words=[0x11111111, 0x22222222, 0x33333333]),
    "status": encode_request(Op.STATUS, 3, 0),
    "bad_crc": encode_request(Op.READ, 4, 0x100, 1)[:-1] + b"\x00",
}


@pytest.mark.parametrize("gap", [0, 1])
@pytest.mark.parametrize("frame", list(FRAMES))
def test_bridge_busy_until_answered(frame, gap):
    dut = Bridge(timeout=1 << 10)
    quiet_cycles, answers = [], []

    async def bench(ctx):
        parser = ResponseParser()
        for rnd in range(2):
            req, wait, r_at, b_at = list(FRAMES[frame]), 0, None, None
            started = answered = False
            for cycle in range(600):
                ctx.set(dut.rx.valid, bool(req) and wait == 0)
                ctx.set(dut.rx.payload, req[0] if req else 0)
                ctx.set(dut.tx.ready, 1)
                ctx.set(dut.bus.arready, 1)
                ctx.set(dut.bus.awready, 1)
                ctx.set(dut.bus.wready, 1)
                ctx.set(dut.bus.rvalid, r_at is not None and r_at <= cycle)
                ctx.set(dut.bus.rdata, 0x12345678)
                ctx.set(dut.bus.bvalid, b_at is not None and b_at <= cycle)
                busy, tx_valid = ctx.get(dut.busy), ctx.get(dut.tx.valid)
                took = bool(req) and wait == 0 and ctx.get(dut.rx.ready)
                if ctx.get(dut.bus.arvalid) and r_at is None:
                    r_at = cycle + 3
                if ctx.get(dut.bus.rvalid) and ctx.get(dut.bus.rready):
                    r_at = None
                if ctx.get(dut.bus.wvalid) and b_at is None:
                    b_at = cycle + 3
                if ctx.get(dut.bus.bvalid) and ctx.get(dut.bus.bready):
                    b_at = None
                if tx_valid:
                    answered = bool(parser.feed(bytes([ctx.get(dut.tx.payload)])))
                started |= took
                if started and not answered and not busy and not tx_valid and not req:
                    quiet_cycles.append((rnd, cycle))
                if answered:
                    answers.append(rnd)
                    break
                if took:
                    req.pop(0)
                    wait = gap
                elif wait:
                    wait -= 1
                await ctx.tick()
            for _ in range(5):       # (settles: the next round starts quiet)
                await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert answers == [0, 1], f"{frame}: answered rounds {answers}"
    assert not quiet_cycles, f"{frame}: busy low before the answer at (round, cycle) {quiet_cycles}"
