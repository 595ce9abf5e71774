"""Bench records (DESIGN.md §6), written the same way by cocotb benches and plain ones."""

import json
import os

__all__ = ["bench_record"]


def bench_record(bench, params_, nbytes, cycles, limit, *, out=None, **extra):
    """Append one record to ``out`` (default ``$SGDMA_BENCH_OUT``; ``make bench`` collects them
    into ``build/bench/results.json``)."""
    rec = {"bench": bench, "params": params_, "bytes": nbytes, "cycles": cycles,
           "bytes_per_cycle": round(nbytes / cycles, 4) if cycles else 0.0,
           "limit_bytes_per_cycle": float(limit)}
    rec.update(extra)
    with open(out or os.environ["SGDMA_BENCH_OUT"], "a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec
