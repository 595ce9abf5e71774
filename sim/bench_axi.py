"""cocotb bench: AXI4 memory throughput and interconnect latency (run by ``make bench``)."""


import cocotb
from cocotb.triggers import ClockCycles, Combine, RisingEdge
from cocotbext.axi import AxiBus, AxiMaster

from .tb import bench_record, params, quiet_controls, start

P = params()
WB = P.get("data_width", 64) // 8


def record(bench, params_, nbytes, cycles, **extra):
    return bench_record(bench, params_, nbytes, cycles, WB, **extra)


async def setup(dut):
    await start(dut)
    quiet_controls(dut)
    bus = AxiBus.from_prefix(dut, "mgr__0", bus_separator="__")
    return AxiMaster(bus, dut.clk, dut.rst, max_burst_len=256)


async def clear(dut):
    dut.perf_clear.value = 1
    await RisingEdge(dut.clk)
    dut.perf_clear.value = 0


def perf(dut, name):
    return int(getattr(dut, f"perf_{name}").value)


@cocotb.test()
async def memory_throughput(dut):
    mst = await setup(dut)
    total = 64 * 1024
    via = "interconnect" if P.get("managers", 1) > 1 or P.get("interconnect") else "direct"
    for latency in (0, 32, 128):
        dut.read_latency.value = latency
        dut.write_latency.value = latency
        for burst in (16, 256):
            mst.write_if.max_burst_len = burst
            mst.read_if.max_burst_len = burst
            chunk = burst * WB
            await ClockCycles(dut.clk, 2)
            await clear(dut)
            # reads and writes at once, all bursts queued back to back
            ops = [mst.init_write(a, bytes(chunk)) for a in range(0, total, chunk)]
            ops += [mst.init_read(total + a, chunk) for a in range(0, total, chunk)]
            await Combine(*[op.wait() for op in ops])
            await ClockCycles(dut.clk, 2)
            p = {"mem_latency": latency, "burst_beats": burst, "data_width": WB * 8, "path": via}
            r_cyc = perf(dut, "r_last") - perf(dut, "r_first") + 1
            w_cyc = perf(dut, "w_last") - perf(dut, "w_first") + 1
            assert perf(dut, "r_beats") * WB == total and perf(dut, "w_beats") * WB == total
            record("axi_mem_read", p, total, r_cyc)
            record("axi_mem_write", p, total, w_cyc)
            # both directions together: the span from the first to the last data beat
            span = max(perf(dut, "r_last"), perf(dut, "w_last")) - min(perf(dut, "r_first"),
                                                                      perf(dut, "w_first")) + 1
            record("axi_mem_rw", p, 2 * total, span, limit_bytes_per_cycle=2.0 * WB)


@cocotb.test()
async def first_beat_latency(dut):
    mst = await setup(dut)
    for latency in (0, 32):
        dut.read_latency.value = latency
        await ClockCycles(dut.clk, 2)
        await clear(dut)
        await mst.read(0, WB)
        await ClockCycles(dut.clk, 2)
        cycles = perf(dut, "r_first") - perf(dut, "ar_first")
        via = "interconnect" if P.get("interconnect") else "direct"
        record("axi_read_latency", {"mem_latency": latency, "path": via, "data_width": WB * 8},
               WB, cycles, latency_cycles=cycles)
