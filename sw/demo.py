"""``sgdma demo``: the showcase, through the driver, on any target.

Every operation is checked byte for byte against the reference model (:mod:`sgdma.sw.model`):
the demo keeps a shadow of device memory, runs each transaction's descriptors through the
model on the shadow, and compares the whole destination buffer -- guard bytes around the
destination included -- with what the device holds afterwards.
"""

import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .driver import (FENCE, INTERRUPT, Chunk, Device, DmaError, InterleavedTemplate, model_execute)
from .model import FlatMemory

__all__ = ["run", "Row"]

GUARD = 64


@dataclass
class Row:
    operation: str
    nbytes: int
    cycles: int
    limit: float          # bytes per cycle the bus allows
    verified: bool
    note: str = ""

    @property
    def rate(self):
        return self.nbytes / self.cycles if self.cycles else 0.0


class Showcase:
    def __init__(self, dev, out, seed):
        self.dev, self.out = dev, out
        self.rng = random.Random(seed)
        self.shadow = FlatMemory(dev.mem_size)
        self.chan = dev.channel(0)
        self.rows = []
        self.limit = float(dev.data_bytes)
        # a small memory (the iCEBreaker's 128 KiB) runs every step at a quarter of the size
        self.f = 1 if dev.mem_size >= 1 << 20 else 4

    def say(self, msg):
        print(msg, file=self.out, flush=True)

    # ---- memory with a shadow ----
    def buffer(self, size, align=64):
        """A buffer of random bytes that the shadow knows too."""
        buf = self.dev.alloc(size, align)
        data = self.rng.randbytes(size)
        buf.write(data)
        self.shadow.write(buf.addr, data)
        return buf

    def run_tx(self, txs, name, nbytes, check, note=""):
        """Submit ``txs`` together, wait for all, model them, compare ``check`` buffers."""
        cookies = [tx.submit() for tx in txs]
        self.chan.issue_pending()
        for c in cookies:
            self.chan.wait(c)
        cycles = self.chan.cycles()
        for tx in txs:
            model_execute(tx, self.shadow)
        ok = all(b.read() == self.shadow.read(b.addr, b.size) for b in check)
        self.rows.append(Row(name, nbytes, cycles, self.limit, ok, note))
        mark = "ok" if ok else "MISMATCH"
        self.say(f"    {name}: {nbytes} B in {cycles} cycles ({nbytes / cycles:.2f} B/cycle), "
                 f"model comparison {mark}")
        return ok

    # ---- the six steps ----
    def sg_copy(self):
        self.say("1. scatter-gather copy between two fragmented buffers")
        f = self.f
        src_sizes = [n // f for n in (4093, 12288, 777, 20000, 5 * f, 9000, 2605)]  # 48,768 B (f=1)
        total = sum(src_sizes)
        dst_sizes = [10000 // f, 3, 25000 // f, 8765 // f]
        dst_sizes.append(total - sum(dst_sizes))
        src = [self.buffer(n + 7, align=64) for n in src_sizes]
        dst = [self.buffer(n + 2 * GUARD) for n in dst_sizes]
        src_sgl = [b[(k % 7):(k % 7) + n] for k, (b, n) in enumerate(zip(src, src_sizes))]
        dst_sgl = [b[GUARD + k:GUARD + k + n] for k, (b, n) in enumerate(zip(dst, dst_sizes))]
        tx = self.chan.prep_sg(dst_sgl, src_sgl, flags=INTERRUPT)
        self.run_tx([tx], "SG copy 7 -> 5 fragments", total, dst)

    def nd(self):
        self.say("2. matrix column extraction and sub-matrix copy (N-D)")
        f = self.f
        n = 128 // f
        mat = self.buffer(n * n * 4)
        col = self.buffer(n * 4 + 2 * GUARD)
        k = 37 % n
        t = InterleavedTemplate(src_start=mat.addr + 4 * k, dst_start=col.addr + GUARD, numf=n,
                                chunks=(Chunk(4, src_icg=4 * (n - 1)),), dst_sgl=False)
        self.run_tx([self.chan.prep_interleaved(t)], f"column {k} of a {n}x{n} u32 matrix", n * 4, [col])
        dn = 96 // f
        dst = self.buffer(dn * dn * 4)
        rows, cols, r0, c0, r1, c1 = (v // f for v in (48, 40, 11, 17, 30, 50))
        t = InterleavedTemplate(src_start=mat.addr + 4 * (r0 * n + c0),
                                dst_start=dst.addr + 4 * (r1 * dn + c1),
                                numf=rows, chunks=(Chunk(cols * 4, src_icg=4 * (n - cols),
                                                         dst_icg=4 * (dn - cols)),))
        self.run_tx([self.chan.prep_interleaved(t)], f"{rows}x{cols} sub-matrix into a {dn}x{dn} matrix",
                    rows * cols * 4, [dst])

    def yuv(self):
        self.say("3. YUV 4:2:0 frame gathered from planes with 64-byte-aligned padded strides")
        w, h = 320 // self.f, 240 // self.f
        planes = [(w, h), (w // 2, h // 2), (w // 2, h // 2)]
        srcs, txs, pos = [], [], 0
        frame = self.buffer(w * h * 3 // 2 + 2 * GUARD)
        for pw, ph in planes:
            stride = (pw + 63) // 64 * 64 + 64          # padded, burst-aligned
            buf = self.buffer(stride * ph)
            srcs.append(buf)
            t = InterleavedTemplate(src_start=buf.addr, dst_start=frame.addr + GUARD + pos, numf=ph,
                                    chunks=(Chunk(pw, src_icg=stride - pw),), dst_sgl=False)
            txs.append(self.chan.prep_interleaved(t, flags=INTERRUPT if len(txs) == 2 else 0))
            pos += pw * ph
        self.run_tx(txs, f"I420 {w}x{h} from strided planes", pos, [frame])

    def fill(self):
        self.say("4. fill")
        n = 16381 // self.f
        dst = self.buffer(n + 2 * GUARD)
        tx = self.chan.prep_fill(dst[GUARD + 3:GUARD + 3 + n], b"\xde\xad\xbe\xef", n)
        self.run_tx([tx], f"fill {n} B, odd address, 4-byte pattern", n, [dst])

    def journal(self):
        self.say("5. journaling order: data, journal record, FENCE, commit block")
        data_src, journal_src, commit_src = self.buffer(8192), self.buffer(512), self.buffer(64)
        disk = self.buffer(8192 + 512 + 64 + 2 * GUARD)
        order = []
        txs = [self.chan.prep_memcpy(disk[GUARD:GUARD + 8192], data_src, 8192),
               self.chan.prep_memcpy(disk[GUARD + 8192:GUARD + 8704], journal_src, 512, flags=FENCE),
               self.chan.prep_memcpy(disk[GUARD + 8704:GUARD + 8768], commit_src, 64, flags=INTERRUPT)]
        for name, tx in zip(("data", "journal record", "commit block"), txs):
            tx.callback = lambda r, name=name: order.append(name)
        ok = self.run_tx(txs, "journal: data + record, FENCE, commit", 8768, [disk],
                         note="commit descriptor carries FENCE")
        slots = [tx.slots[0] for tx in txs]
        self.say(f"    completed in order: {' -> '.join(order)} (ring slots {slots}); the commit "
                 f"block's write started only after every earlier write had its response")
        if order != ["data", "journal record", "commit block"]:
            self.rows[-1].verified = False
        return ok

    def bus_error(self):
        self.say("6. injected bus error: a copy from an address nothing answers")
        addr = self.dev.unmapped(4096)
        if addr is None:
            self.say("    the memory fills the engine's whole bus: no address to fault on; skipped")
            return
        hole = self.dev.raw(addr, 4096)
        dst = self.buffer(4096 + 2 * GUARD)
        cookie = self.chan.prep_memcpy(dst[GUARD:GUARD + 4096], hole, 4096).submit()
        self.chan.issue_pending()
        caught = None
        try:
            self.chan.wait(cookie)
        except DmaError as exc:
            caught = exc
        intact = dst.read() == self.shadow.read(dst.addr, dst.size)
        if caught is None:
            self.say("    no error was reported: FAIL")
            self.rows.append(Row("bus error reported", 4096, 0, self.limit, False))
            return
        self.say(f"    {type(caught).__name__}: {caught.code.name} at {caught.addr:#x}; "
                 f"destination untouched: {intact}; channel reset by the driver")
        self.rows.append(Row(f"bus error -> {type(caught).__name__} {caught.code.name}", 0, 0, self.limit,
                             intact and caught.addr == hole.addr, "typed error, channel reset"))
        src = self.buffer(4096)
        self.run_tx([self.chan.prep_memcpy(dst[GUARD:GUARD + 4096], src, 4096)],
                    "next copy after the reset", 4096, [dst])

    def sweep(self, sizes):
        """Throughput against transfer size: batches of copies, cycles from the doorbell to the
        last completion."""
        self.say("throughput sweep (memcpy batches, engine timestamps)")
        src = self.dev.alloc(max(sizes) + 64)
        dst = self.dev.alloc(max(sizes) * 4 + 64)
        points = []
        for size in sizes:
            count = max(4, min(32, (256 << 10) // size))
            count = min(count, (dst.size - 64) // size)
            cookies = [self.chan.prep_memcpy(dst[k * size:(k + 1) * size], src[0:size], size).submit()
                       for k in range(count)]
            self.chan.issue_pending()
            for c in cookies:
                self.chan.wait(c)
            cycles = self.chan.cycles()
            points.append((size, count, cycles, size * count / cycles))
            self.say(f"    {count:3d} x {size:7d} B: {size * count / cycles:.2f} B/cycle")
        src.free()
        dst.free()
        return points


def _table(rows, out):
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        Console = None
    header = ["operation", "bytes", "cycles", "bytes/cycle", "% of bus limit", "verified"]
    body = [[r.operation, f"{r.nbytes:,}", f"{r.cycles:,}" if r.cycles else "-",
             f"{r.rate:.2f}" if r.cycles else "-", f"{100 * r.rate / r.limit:.1f} %" if r.cycles else "-",
             "yes" if r.verified else "NO"] for r in rows]
    if Console is not None:
        t = Table(*header, title="sgdma demo")
        for b in body:
            t.add_row(*b)
        Console(file=out, width=120).print(t)
    else:
        for b in [header] + body:
            print(" | ".join(b), file=out)


def _plot(points, limit, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = [p[0] for p in points]
    rates = [p[3] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sizes, rates, "o-", label="memcpy batches")
    ax.axhline(limit, color="gray", linestyle="--", label=f"bus limit ({limit:.0f} B/cycle)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("transfer size (bytes)")
    ax.set_ylabel("bytes per cycle")
    ax.set_ylim(0, limit * 1.1)
    ax.set_title("sgdma: copy throughput against transfer size")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(target="sim", *, out=sys.stdout, plot=Path("build/demo/throughput.png"), seed=None,
        sizes=(64, 256, 1024, 4096, 16384, 65536)):
    """Run the showcase on ``target``; returns (rows, sweep points).  Raises SystemExit(1)
    when anything did not verify."""
    seed = random.SystemRandom().randrange(1 << 31) if seed is None else seed
    t0 = time.monotonic()
    print(f"sgdma demo on {target} (seed {seed})", file=out, flush=True)
    with Device(target, quiet=False) as dev:
        print(f"connected in {time.monotonic() - t0:.0f} s: {'the lite engine, ' if dev.lite else ''}"
              f"{dev.n_channels} channels, "
              f"{8 * dev.data_bytes}-bit memory bus, "
              f"{f'{dev.mem_size >> 20} MiB' if dev.mem_size >= 1 << 20 else f'{dev.mem_size >> 10} KiB'}",
              file=out, flush=True)
        s = Showcase(dev, out, seed)
        for step in (s.sg_copy, s.nd, s.yuv, s.fill, s.journal, s.bus_error):
            step()
        # (a small memory sweeps what fits: a source and four destinations in half of it)
        points = s.sweep([z for z in sizes if 5 * z <= dev.mem_size // 2])
        stats = dev.link.stats
    _table(s.rows, out)
    if plot is not None:
        plot = Path(plot)
        _plot(points, s.limit, plot)
        (plot.with_suffix(".json")).write_text(json.dumps(
            {"rows": [r.__dict__ for r in s.rows], "sweep": points, "link": stats}, indent=1))
        print(f"plot: {plot}", file=out)
    ok = all(r.verified for r in s.rows)
    print(f"{'all verified' if ok else 'VERIFICATION FAILED'} in {time.monotonic() - t0:.0f} s "
          f"(link: {stats['frames']} frames, {stats['retransmits']} retransmitted)", file=out)
    if not ok:
        raise SystemExit(1)
    return s.rows, points
