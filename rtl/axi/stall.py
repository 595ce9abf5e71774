"""Random stall injection on all five AXI channels (for benches)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus import AXI4Signature, CHANNELS, channel_payload

__all__ = ["AXI4Stall"]


class AXI4Stall(wiring.Component):
    """Passes an AXI4 bus through, randomly stalling each channel without breaking AXI rules.

    Each channel has its own LFSR; in a stalled cycle the channel's handshake cannot happen.
    A valid that has been presented downstream stays presented until accepted, so both sides
    see a legal bus: it models a source that inserts gaps and a sink that throttles.

    Members
    -------
    s : In(signature)
        Toward the manager.
    m : Out(signature)
        Toward the subordinate.
    stall : In(8)
        Stall probability in 1/256 (0: a wire).
    seed : In(32)
        LFSR seed, loaded while ``load`` is high.
    load : In(1)
    """

    def __init__(self, signature, *, salt=0):
        if not isinstance(signature, AXI4Signature):
            raise TypeError(f"signature must be an AXI4Signature, not {signature!r}")
        self._salt = salt
        super().__init__({"s": In(signature), "m": Out(signature), "stall": In(8),
                          "seed": In(32), "load": In(1)})

    def elaborate(self, platform):
        m = Module()
        for n, (ch, downstream_from_s) in enumerate(CHANNELS.items()):
            src, dst = (self.s, self.m) if downstream_from_s else (self.m, self.s)
            lfsr = Signal(32, init=0x1234567 + 0x9E3779B * (n + 1 + self._salt), name=f"{ch}_lfsr")
            with m.If(self.load):
                m.d.sync += lfsr.eq(self.seed ^ (0x9E3779B9 * (n + 1 + self._salt) & 0xFFFFFFFF) | 1)
            with m.Else():
                # xorshift32
                x1 = lfsr ^ (lfsr << 13)[:32]
                x2 = x1 ^ (x1 >> 17)
                x3 = x2 ^ (x2 << 5)[:32]
                m.d.sync += lfsr.eq(x3)
            go = Signal(name=f"{ch}_go")
            m.d.comb += go.eq(lfsr[8:16] >= self.stall)
            held = Signal(name=f"{ch}_held")
            valid_out = Signal(name=f"{ch}_vout")
            src_valid = getattr(src, f"{ch}valid")
            dst_ready = getattr(dst, f"{ch}ready")
            m.d.comb += valid_out.eq(src_valid & (go | held))
            m.d.sync += held.eq(valid_out & ~dst_ready)
            m.d.comb += [
                getattr(dst, f"{ch}valid").eq(valid_out),
                getattr(src, f"{ch}ready").eq(dst_ready & (go | held)),
            ]
            for name, sig in channel_payload(src, ch).items():
                m.d.comb += getattr(dst, name).eq(sig)
        return m
