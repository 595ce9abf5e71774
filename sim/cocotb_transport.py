"""The driver inside a cocotb bench: a :class:`~sgdma.sw.transport.Transport` on the SoC's byte
streams, for host code running in a ``cocotb.task.bridge`` thread.

    t = CocotbTransport(dut)                 # in the test coroutine: starts the pump
    await cocotb.task.bridge(host_code)(t)   # host_code(t) builds Device(t) and runs the driver

``recv(timeout)`` measures its timeout in simulated cycles (``cycles_per_second``), so a bench
is deterministic and a silent bridge ends the wait instead of hanging the simulator.
"""

from collections import deque

import cocotb
from cocotb.task import resume
from cocotb.triggers import ClockCycles, Event, First, RisingEdge

from ..sw.transport import Transport

__all__ = ["CocotbTransport"]


class CocotbTransport(Transport):
    name = "cocotb"

    def __init__(self, dut, *, cycles_per_second=100_000):
        self.dut = dut
        self.cps = cycles_per_second
        self._in = deque()
        self._out = bytearray()
        self._got = Event()
        dut.rx__valid.value = 0
        dut.tx__ready.value = 1
        self._pump_task = cocotb.start_soon(self._pump())

    async def _pump(self):
        dut = self.dut
        while True:
            presented = bool(self._in)      # bytes may arrive while we wait for the edge
            dut.rx__valid.value = int(presented)
            if presented:
                dut.rx__payload.value = self._in[0]
            await RisingEdge(dut.clk)
            if presented and dut.rx__ready.value:
                self._in.popleft()
            if dut.tx__valid.value:
                self._out.append(int(dut.tx__payload.value))
                self._got.set()

    async def _send(self, data):
        self._in.extend(data)

    async def _recv(self, timeout):
        if not self._out:
            self._got.clear()
            await First(self._got.wait(), ClockCycles(self.dut.clk, max(1, int(timeout * self.cps))))
        data = bytes(self._out)
        self._out.clear()
        return data

    def send(self, data):
        resume(self._send)(bytes(data))

    def recv(self, timeout):
        return resume(self._recv)(timeout)

    def close(self):
        pass
