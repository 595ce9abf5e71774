"""``sgdma sim``: build the SoC as a stand-alone Verilator program and run it.

The program (``sim/cpp/socsim.cpp``) serves the bridge protocol on a TCP port; no Python runs
per clock cycle.  Builds are cached under ``build/socsim/`` by (sources, parameters).
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .harness import BUILD, ROOT, _sources_digest, _strip_zero_memory_init, build_lock, verilator_env

__all__ = ["DEFAULTS", "LITE", "build", "SimProcess"]

#: the simulated SoC: the full engine, and memory for the demo's frames
DEFAULTS = {"channels": 4, "data_width": 64, "mem_size": 16 << 20, "timeout": 1 << 16}
#: ``sim:lite`` / ``sgdma sim --lite``: the iCEBreaker's engine (rtl/dma/lite.py)
LITE = {"channels": 1, "data_width": 32, "lite": True, "mem_size": 128 << 10}
_CPP = ROOT / "sim" / "cpp" / "socsim.cpp"


def _say(msg, quiet):
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _cpu():
    """The host CPU (the simulator is compiled with -march=native: a cached binary must not
    move to another CPU)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        return re.search(r"^flags\s*:\s*(.*)$", text, re.M)[1]
    except (OSError, TypeError):
        import platform
        return platform.processor() or platform.machine()


def build(params=None, *, quiet=False):
    """Path of the simulator binary for ``SoC(memory="sim", **params)``, building it if needed."""
    params = {**DEFAULTS, **(params or {})}
    version = verilator_env()
    key = hashlib.sha256(json.dumps({"sources": _sources_digest(), "cpp": _CPP.read_text(),
                                     "params": params, "verilator": version, "cpu": _cpu()},
                                    sort_keys=True).encode()).hexdigest()[:16]
    directory = BUILD / "socsim" / key
    binary = directory / "obj" / "socsim"
    if binary.exists():
        return binary
    with build_lock(directory, binary) as fresh:
        if not fresh:
            return binary
        t0 = time.monotonic()
        _say(f"sgdma sim: building the SoC simulator {params} (once; a few minutes)", quiet)
        from amaranth.back import verilog

        from ..rtl.soc import SoC
        top = SoC(memory="sim", **params)
        text = verilog.convert(top, name="top", emit_src=False)
        (directory / "top.v").write_text(_strip_zero_memory_init(text))
        _say(f"sgdma sim:   Verilog ready ({time.monotonic() - t0:.0f} s); compiling with Verilator", quiet)
        extra = sorted((ROOT / "sim" / "verilog").glob("*.v"))
        cmd = ["verilator", "--cc", "--exe", "--build", "-j", str(os.cpu_count() or 2), "--top-module", "top",
               "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0", "-O3",
               "-CFLAGS", "-march=native", "-Mdir", "obj", "-o", "socsim", "top.v", *map(str, extra),
               str(_CPP)]
        env = dict(os.environ, MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O3 OPT_SLOW=-O1")
        with open(directory / "build.log", "w") as log:
            rc = subprocess.run(cmd, cwd=directory, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        if rc or not binary.exists():
            tail = "\n".join((directory / "build.log").read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"Verilator build of the SoC simulator failed; "
                               f"see {directory / 'build.log'}:\n{tail}")
        (directory / "params.json").write_text(json.dumps(params, indent=1))
        _say(f"sgdma sim:   built in {time.monotonic() - t0:.0f} s: {binary}", quiet)
    return binary


class SimProcess:
    """A running simulator: ``port``, ``stop()``; a context manager.  It serves one connection
    at a time (one serial line); with ``once`` it exits when the first one closes."""

    def __init__(self, params=None, *, port=0, cycles_per_byte=2, once=True, quiet=False):
        binary = build(params, quiet=quiet)
        cmd = [str(binary), "--port", str(port), "--cycles-per-byte", str(cycles_per_byte)]
        self.proc = subprocess.Popen(cmd + (["--once"] if once else []), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"listening on ([\d.]+):(\d+)", line)
        if not match:
            err = self.proc.stderr.read()
            self.proc.kill()
            raise RuntimeError(f"sgdma sim did not start: {line!r} {err!r}")
        self.host, self.port = match[1], int(match[2])
        self.cycles_per_byte = cycles_per_byte
        self.summary = None

    @property
    def url(self):
        return f"tcp://{self.host}:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.summary = (err or "").strip()
        return self.summary

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
