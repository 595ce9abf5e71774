"""``make bench``: run every bench, write ``build/bench/results.json``, print a table.

Records follow DESIGN.md §6: ``{"bench", "params", "bytes", "cycles", "bytes_per_cycle",
"limit_bytes_per_cycle", ...}``.  Cycle counts come from the simulation, so they are exact
and repeatable.
"""

import argparse
import json
import sys

from . import harness
from .tops import DmaSystem, MemorySystem


def memory_system(**kw):
    return MemorySystem(**kw)


def dma_system(**kw):
    return DmaSystem(**kw)


BENCHES = [
    # (name, factory, params, cocotb module)
    ("axi-direct", memory_system, dict(managers=1, mem_sizes=[1 << 17], interconnect=False),
     "sgdma.sim.bench_axi"),
    ("axi-xbar", memory_system, dict(managers=1, mem_sizes=[1 << 17], interconnect=True),
     "sgdma.sim.bench_axi"),
    ("dma", dma_system, dict(channels=4, data_width=64, mem_size=8 << 20), "sgdma.sim.bench_dma"),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-k", help="run only benches whose name contains this")
    ap.add_argument("--only", help="within the DMA bench, only the records whose name contains this")
    args = ap.parse_args(argv)
    out_dir = harness.BUILD / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = out_dir / "records.jsonl"
    lines.unlink(missing_ok=True)
    for name, factory, params, module in BENCHES:
        if args.k and args.k not in name:
            continue
        print(f"== {name}: building", flush=True)
        built = harness.build(factory, params=params)
        print(f"== {name}: running", flush=True)
        env = {"SGDMA_BENCH_OUT": str(lines)}
        if args.only:
            env["SGDMA_BENCH_ONLY"] = args.only
        harness.run(built, module, seed=1, env=env)
    records = [json.loads(line) for line in lines.read_text().splitlines()] if lines.exists() else []
    (out_dir / "results.json").write_text(json.dumps(records, indent=1) + "\n")
    print(f"\n{'bench':<18} {'params':<58} {'bytes':>8} {'cycles':>8} {'B/cyc':>7} {'% limit':>8}")
    for r in records:
        p = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        pct = 100 * r["bytes_per_cycle"] / r["limit_bytes_per_cycle"]
        print(f"{r['bench']:<18} {p:<58} {r['bytes']:>8} {r['cycles']:>8} "
              f"{r['bytes_per_cycle']:>7.3f} {pct:>7.1f}%")
    print(f"\nwrote {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
