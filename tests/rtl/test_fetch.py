"""The record fetcher alone (Amaranth simulator): commands of random sizes -- none among them --
against a memory model with random AR and R stalls, every record checked in order."""

import random

import pytest
from amaranth.sim import Simulator

from sgdma.rtl.dma.fetch import RecordFetcher
from sgdma.sim import harness


def beat_data(addr):
    """What the model memory holds in the 8-byte word at ``addr``."""
    return (addr * 0x9E3779B97F4A7C15) & (1 << 64) - 1


@pytest.mark.parametrize("registered_stop", [False, True])
def test_record_fetcher_commands_of_any_size_including_none(registered_stop):
    """... and ``stop`` raised in random stretches: no burst is offered that was loaded
    while it held (a cycle after it rose, with ``registered_stop``)."""
    seed = harness.seed_from_env()
    rng = random.Random(seed)
    dut = RecordFetcher(record_bytes=16, buffer_records=8, burst_records=8, count_width=17,
                        registered_stop=registered_stop)
    # commands: some empty, some crossing a 4 KiB page, back to back
    cmds = []
    for _ in range(40):
        count = rng.choice([0, 0, 1, 2, 3, 7, 8, 9, 17])
        addr = rng.choice([0x1000, 0x1F80, 0x2FF0, 0x8000]) + 16 * rng.randrange(4)
        cmds.append((addr, count))
    want = [a + 16 * k for a, n in cmds for k in range(n)]
    got = []
    stats = {"bursts": 0, "beats": 0, "held": 0}
    # a burst first offered in cycle c was loaded in c - 1, where the fetcher saw the stop
    # of c - 1 (or, through its register, of c - 2)
    lag = 2 if registered_stop else 1

    async def bench(ctx):
        bursts = []                 # [address of the next beat, beats left]
        pending = list(cmds)
        offered = None              # the burst offered and not yet taken
        stops = [0, 0]              # `stop` in the cycles so far
        for _ in range(12000):
            # stop, in stretches of ~8 cycles a fifth of the time
            stop = stops[-1] ^ (rng.random() < (0.12 if stops[-1] else 0.03))
            ctx.set(dut.stop, stop)
            stops.append(stop)
            stats["held"] += stop
            # command port
            if pending:
                ctx.set(dut.cmd.valid, 1)
                ctx.set(dut.cmd.payload.addr, pending[0][0])
                ctx.set(dut.cmd.payload.count, pending[0][1])
            else:
                ctx.set(dut.cmd.valid, 0)
            cmd_taken = bool(pending) and ctx.get(dut.cmd.ready)
            # read data: a beat from the oldest burst, unless stalled
            beat = bool(bursts) and rng.random() < 0.7
            ctx.set(dut.bus.rvalid, beat)
            if beat:
                addr, left = bursts[0]
                ctx.set(dut.bus.rdata, beat_data(addr))
                ctx.set(dut.bus.rlast, left == 1)
                ctx.set(dut.bus.rresp, 0)
            # records out, with stalls
            ready = rng.random() < 0.6
            ctx.set(dut.o.ready, ready)
            if ready and ctx.get(dut.o.valid):
                rec = ctx.get(dut.o.payload)
                got.append(rec.addr)
                assert not rec.error, (hex(rec.addr), seed)
                data = int(rec.data)
                want_data = beat_data(rec.addr) | beat_data(rec.addr + 8) << 64
                assert data == want_data, (hex(rec.addr), hex(data), seed)
            # address channel, with stalls: a burst once offered stays, unchanged, until taken
            ar_ready = rng.random() < 0.5
            ctx.set(dut.bus.arready, ar_ready)
            if ctx.get(dut.bus.arvalid):
                addr, length = ctx.get(dut.bus.araddr), ctx.get(dut.bus.arlen) + 1
                assert offered in (None, (addr, length)), (offered, hex(addr), length, seed)
                if offered is None:
                    assert not stops[-1 - lag], \
                        f"burst at {addr:#x} loaded while stop held (seed {seed})"
                offered = None if ar_ready else (addr, length)
                if ar_ready:
                    assert addr >> 12 == (addr + 8 * length - 1) >> 12, \
                        f"burst at {addr:#x} crosses 4 KiB (seed {seed})"
                    bursts.append([addr, length])
                    stats["bursts"] += 1
            else:
                assert offered is None, f"burst {offered} withdrawn (seed {seed})"
            await ctx.tick()
            if cmd_taken:
                pending.pop(0)
            if beat:
                bursts[0][0] += 8
                bursts[0][1] -= 1
                stats["beats"] += 1
                if bursts[0][1] == 0:
                    bursts.pop(0)
            if not pending and not bursts and len(got) == len(want):
                break
        assert not pending, f"commands left: {len(pending)} (seed {seed})"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert [hex(a) for a in got] == [hex(a) for a in want], f"seed {seed}"
    assert stats["beats"] == 2 * len(want), stats
    assert stats["held"] > 30, stats           # stop held in stretches while the commands ran
    assert sum(1 for _, n in cmds if n == 0) >= 3
