"""``sgdma`` command line: ``sgdma sim`` serves the simulated SoC, ``sgdma demo`` runs the showcase."""

import argparse
import sys

__all__ = ["main"]


def _sim(args):
    from ..sim.socsim import DEFAULTS, LITE, build
    params = dict(DEFAULTS, **(LITE if args.lite else {}))
    for name in ("channels", "data_width", "mem_size", "addr_width"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    binary = build(params)
    import os
    cmd = [str(binary), "--port", str(args.port), "--cycles-per-byte", str(args.cycles_per_byte)]
    if args.once:
        cmd.append("--once")
    sys.stdout.flush()
    os.execv(cmd[0], cmd)


def _demo(args):
    from .demo import run
    run(args.target, plot=args.plot, seed=args.seed)


def main(argv=None):
    p = argparse.ArgumentParser(prog="sgdma", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sim", help="run the SoC under Verilator, serving the bridge protocol on TCP")
    s.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one, printed)")
    s.add_argument("--cycles-per-byte", type=int, default=2, help="serial-line pacing of the link")
    s.add_argument("--once", action="store_true", help="exit when the first client disconnects")
    s.add_argument("--channels", type=int)
    s.add_argument("--data-width", type=int)
    s.add_argument("--mem-size", type=lambda v: int(v, 0))
    s.add_argument("--addr-width", type=int, help="the engine's bus address bits (ULX3S: 20)")
    s.add_argument("--lite", action="store_true",
                   help="the iCEBreaker's SoC: the lite engine (one channel, 32-bit), 128 KiB")
    s.set_defaults(func=_sim)
    d = sub.add_parser("demo", help="run the showcase through the driver")
    d.add_argument("--target", default="sim", help="sim | sim:lite | tcp://host:port | serial:///dev/ttyUSB0?baud=N")
    d.add_argument("--plot", default="build/demo/throughput.png")
    d.add_argument("--seed", type=int)
    d.set_defaults(func=_demo)
    args = p.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
