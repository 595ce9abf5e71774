"""Bridge and simulator benches (no cocotb): bulk MMIO through the wire protocol against the
wire's byte rate, MMIO round trips per second, and the simulated SoC's speed during a DMA.

The simulated link carries one byte per ``cycles_per_byte`` cycles each way (like a serial
line); while the host is thinking and the SoC is idle, simulated time stands still, so cycle
counts measure the wire and the bridge, not Python.
"""

import functools
import random
import time

from ..sw.driver import Device
from ..sw.link import Link
from ..sw.memmap import REGISTERS_BASE
from ..sw.transport import SocketTransport
from .records import bench_record
from .socsim import DEFAULTS, SimProcess

__all__ = ["run"]

CYCLES = REGISTERS_BASE + 0x10


def run(out, cycles_per_byte=(1, 2, 4), nbytes=128 << 10):
    record = functools.partial(bench_record, out=out)
    rng = random.Random(1)
    data = rng.randbytes(nbytes)
    for cpb in cycles_per_byte:
        with SimProcess(cycles_per_byte=cpb, once=False) as sim:
            link = Link(SocketTransport(sim.host, sim.port))
            params = {"cycles_per_byte": cpb, "frame_words": 256, "window": link.window}
            c0 = link.read32(CYCLES)
            link.write_bytes(0x10000, data)
            c1 = link.read32(CYCLES)
            back = link.read_bytes(0x10000, nbytes)
            c2 = link.read32(CYCLES)
            assert back == data, "bridge bench: read back differs"
            w = record("bridge-write", params, nbytes, c1 - c0, 1 / cpb)
            r = record("bridge-read", params, nbytes, c2 - c1, 1 / cpb)
            print(f"   {cpb} cycles/byte: write {100 * w['bytes_per_cycle'] * cpb:.1f} %, "
                  f"read {100 * r['bytes_per_cycle'] * cpb:.1f} % of the wire", flush=True)
            if cpb == 2:
                n = 300
                c0, t0 = link.read32(CYCLES), time.perf_counter()
                for _ in range(n):
                    link.read32(REGISTERS_BASE)
                wall = time.perf_counter() - t0
                c1 = link.read32(CYCLES)
                record("bridge-mmio", params, 4 * n, c1 - c0, 1 / cpb,
                        round_trips_per_s=round(n / wall), cycles_per_round_trip=(c1 - c0) / n)
                print(f"   MMIO: {n / wall:.0f} round trips/s on the socket, {(c1 - c0) / n:.0f} cycles each",
                      flush=True)
                link.close()
                dev = Device(SocketTransport(sim.host, sim.port))
                size = 4 << 20
                src, dst = dev.alloc(size), dev.alloc(size)
                chan = dev.channel(0)
                c0, t0 = dev.cycles, time.perf_counter()
                cookie = chan.prep_memcpy(dst, src, size).submit()
                chan.issue_pending()
                chan.wait(cookie, timeout=600)
                wall = time.perf_counter() - t0
                c1 = dev.cycles
                cyc = chan.cycles()
                record("soc-sim", {"memcpy": size, **DEFAULTS}, size, cyc, dev.data_bytes,
                        sim_cycles_per_s=round((c1 - c0) / wall))
                print(f"   simulated SoC: {(c1 - c0) / wall:,.0f} cycles/s during a {size >> 20} MiB memcpy "
                      f"({size / cyc:.2f} B/cycle)", flush=True)
                dev.close()
            else:
                link.close()
