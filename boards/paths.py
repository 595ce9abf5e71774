"""Logic paths of a synthesized ECP5 netlist, estimated without place and route.

``python -m sgdma.boards.paths build/<board>/sgdma_<board>.json`` reads the netlist Yosys
writes for nextpnr (flattened ``synth_ecp5`` output) and estimates, for every flip-flop and
RAM input, the latest arrival along its combinational path: a LUT 0.45 ns, a PFUMX/L6MUX
0.3 ns, a carry chain 0.5 ns to enter and 0.05 ns a cell, a LUT-RAM read 1.5 ns, a block
RAM's clock-to-output 3.5 ns, and a route 0.9 ns + 0.25 ns per doubling of the net's fanout.
Routing on a spread-out design is worse than that, so the numbers run ~15 % above
nextpnr's routed ones, but they rank the paths the same way: the modules whose endpoints
would miss the target, each with its worst path traced back to the register it starts at.
Minutes instead of the half hour of a full ECP5 place and route.

``--routed build/<board>/report.json`` ranks the endpoints by what nextpnr measured on the
routed design instead (its ``--report`` with ``--detailed-timing-report``, which every board
build writes, has every register and RAM input's arrival time, not the times inside a path):
every endpoint over the target, by module, each module's worst traced back to its register
with the estimates -- not only the one critical path nextpnr prints.
"""

import argparse
import collections
import json
import math
import sys

__all__ = ["Paths", "RoutedPaths"]

_CELL_DELAY = {"LUT4": 0.45, "PFUMX": 0.3, "L6MUX21": 0.3, "TRELLIS_DPR16X4": 1.5}
_SOURCE_DELAY = {"TRELLIS_FF": 0.5, "DP16KD": 3.5}
_ENDPOINTS = {"TRELLIS_FF": ("DI", "CE", "LSR", "M"), "TRELLIS_DPR16X4": ("WAD", "DI", "WRE")}


class Paths:
    """Arrival estimates over a Yosys JSON netlist (the module with the most cells)."""

    def __init__(self, netlist):
        module = max(netlist["modules"].values(), key=lambda mod: len(mod.get("cells", {})))
        self.cells = module["cells"]
        self._driver, self._sinks = {}, collections.defaultdict(int)
        for name, cell in self.cells.items():
            dirs = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                for bit in bits:
                    if isinstance(bit, str):
                        continue
                    if dirs.get(port, "input") == "output":
                        self._driver[bit] = (name, port)
                    else:
                        self._sinks[bit] += 1
        self._memo = {}

    def _route(self, bit):
        return 0.9 + 0.25 * math.log2(max(1, self._sinks[bit]))

    def arrival(self, bit):
        """``(ns, previous bit)`` at the output of ``bit``'s driver."""
        if bit in self._memo:
            return self._memo[bit]
        stack = [bit]
        while stack:                     # iterative: paths can be thousands of cells deep
            b = stack[-1]
            if b in self._memo:
                stack.pop()
                continue
            drv = self._driver.get(b)
            if drv is None:
                self._memo[b] = (0.0, None)
                stack.pop()
                continue
            name, port = drv
            cell = self.cells[name]
            kind = cell["type"]
            if kind in _SOURCE_DELAY or kind not in _CELL_DELAY and kind != "CCU2C":
                self._memo[b] = (_SOURCE_DELAY.get(kind, 0.0), None)
                stack.pop()
                continue
            if kind == "CCU2C":
                own = 0.5 if port.startswith("S") else 0.05
            else:
                own = _CELL_DELAY[kind]
            inputs = [(p, ib) for p, bits in cell["connections"].items()
                      if cell.get("port_directions", {}).get(p, "input") == "input"
                      and p not in ("WCK", "WRE", "WAD", "DI") for ib in bits if not isinstance(ib, str)]
            todo = [ib for _, ib in inputs if ib not in self._memo]
            if todo:
                stack.extend(todo)
                continue
            best = (0.0, None)
            for p, ib in inputs:
                t = self._memo[ib][0] + (0.0 if p == "CIN" else self._route(ib))
                if t > best[0]:
                    best = (t, ib)
            self._memo[b] = (best[0] + own, best[1])
            stack.pop()
        return self._memo[bit]

    def endpoints(self):
        """``[(ns, cell, port, bit)]`` for every flip-flop and RAM input, latest first."""
        out = []
        for name, cell in self.cells.items():
            kind = cell["type"]
            ports = _ENDPOINTS.get(kind)
            if kind == "DP16KD":
                ports = [p for p in cell["connections"] if p.startswith(("AD", "DI", "WE", "CE", "CS"))]
            for port in ports or ():
                for bit in cell["connections"].get(port, ()):
                    if not isinstance(bit, str):
                        out.append((self.arrival(bit)[0] + self._route(bit), name, port, bit))
        return sorted(out, reverse=True)

    def trace(self, bit):
        """The path into ``bit``: ``[(ns, driver cell)]``, latest first."""
        out = []
        while bit is not None:
            t, prev = self.arrival(bit)
            out.append((t, self._driver.get(bit, ("?", ""))[0]))
            bit = prev
        return out

    def failing(self, period_ns, depth=5):
        """``[(module, endpoints over period_ns, worst ns, worst cell.port, worst bit)]``,
        worst first; a module is the first ``depth`` levels of the cell's hierarchy."""
        groups = {}
        for t, name, port, bit in self.endpoints():
            if t <= period_ns:
                break
            module = ".".join(name.lstrip("\\").split(".")[:-1][:depth]) or "(top)"
            n, worst = groups.get(module, (0, None))
            groups[module] = (n + 1, worst or (t, f"{name}.{port}", bit))
        rows = [(mod, n, w[0], w[1], w[2]) for mod, (n, w) in groups.items()]
        return sorted(rows, key=lambda r: -r[2])


class RoutedPaths(Paths):
    """:class:`Paths` ranked by what nextpnr measured: the endpoints' routed arrival times
    from its detailed timing report (``report``), each traced back through ``netlist`` with
    the estimates (the report has no times inside a path)."""

    def __init__(self, netlist, report):
        super().__init__(netlist)
        self._arrival = {}      # (cell, port) -> routed arrival, ns
        for net in report["detailed_net_timings"]:
            for ep in net["endpoints"]:
                pin = (ep["cell"].lstrip("\\"), ep["port"])
                self._arrival[pin] = max(self._arrival.get(pin, 0.0), ep["delay"][-1])

    def endpoints(self):
        out = []
        for (name, port), t in self._arrival.items():
            cell = self.cells.get(name)
            # (nextpnr names a flip-flop's data input M when no LUT of its slice feeds it)
            bits = cell and cell["connections"].get("DI" if port == "M" else port)
            if bits and not isinstance(bits[0], str):
                out.append((t, name, port, bits[0]))
        return sorted(out, reverse=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sgdma.boards.paths", description=__doc__.split("\n\n")[0])
    ap.add_argument("netlist", help="Yosys JSON (e.g. build/ulx3s/sgdma_ulx3s.json)")
    ap.add_argument("--mhz", type=float, default=75.0, help="target clock (default 75)")
    ap.add_argument("--depth", type=int, default=5, help="hierarchy levels per module")
    ap.add_argument("--trace", type=int, default=12, help="cells of each worst path shown")
    ap.add_argument("--routed", metavar="REPORT",
                    help="nextpnr's report.json of the same netlist: routed arrival times")
    args = ap.parse_args(argv)
    with open(args.netlist) as f:
        netlist = json.load(f)
    if args.routed:
        with open(args.routed) as f:
            paths = RoutedPaths(netlist, json.load(f))
    else:
        paths = Paths(netlist)
    period = 1000 / args.mhz
    kind = "routed" if args.routed else "estimated"
    print(f"endpoints {kind} over {period:.2f} ns, by module: count, worst ns, worst pin")
    for module, n, worst, pin, bit in paths.failing(period, args.depth):
        print(f"{n:6} {worst:6.2f}  {module}  <- {pin}")
        for t, cell in paths.trace(bit)[:args.trace]:
            print(f"{'':14}{t:6.2f}  {cell}")


if __name__ == "__main__":
    sys.exit(main())
