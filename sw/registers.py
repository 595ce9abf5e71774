"""The sgdma register map, declared once (see :mod:`sgdma.sw.regdef`).

RTL register banks, the driver's register access, ``docs/registers.md`` and
``include/sgdma_regs.h`` are all generated from :data:`SGDMA`.
"""

import enum

from .regdef import Access, Field, Placement, Register, RegisterBlock, RegisterMap

__all__ = ["SYSTEM", "CHANNEL", "SGDMA", "ChannelState", "register_map", "ID_MAGIC", "VERSION_MAJOR",
           "VERSION_MINOR", "CHANNEL_BASE", "CHANNEL_STRIDE"]

ID_MAGIC = 0x5347444D  # "SGDM"
VERSION_MAJOR = 0
VERSION_MINOR = 2

R, W, RW, RW1C, RW1S = Access.R, Access.W, Access.RW, Access.RW1C, Access.RW1S

SYSTEM = RegisterBlock("system", "Identification, configuration and the cycle counter.", [
    Register("id", 0x00, "Identifies an sgdma device: reads 0x5347444D ('SGDM').", [
        Field("magic", 32, R, "0x5347444D"),
    ]),
    Register("version", 0x04, "Register map version.", [
        Field("minor", 16, R, "minor version"),
        Field("major", 16, R, "major version"),
    ]),
    Register("config", 0x08, "What this instance was built with.", [
        Field("channels", 8, R, "number of DMA channels"),
        Field("data_bytes", 8, R, "memory bus width in bytes"),
        Field("iommu", 1, R, "an IOMMU sits in front of the DMA master"),
        Field("offload", 1, R, "checksum / segmentation offload present"),
        Field("lite", 1, R, "the sequential lite engine: one descriptor at a time, bursts of "
                            "at most 64 bytes, no overlap of reads and writes"),
        Field("addr_bits", 7, R, "width of the engine's bus addresses: a descriptor's or SG "
                                 "entry's address at or above 2**addr_bits is malformed "
                                 "(INVALID); `ring_base` is taken modulo 2**addr_bits"),
    ]),
    Register("scratch", 0x0C, "Free for software: proves the bus works.", [
        Field("value", 32, RW, "any value"),
    ]),
    Register("cycles", 0x10, "Free-running clock cycle counter (read low half first).", [
        Field("count", 64, R, "cycles since reset"),
    ], width=64),
], size=0x100)


class ChannelState(enum.IntEnum):
    """``status.state`` of a DMA channel."""
    IDLE = 0     #: nothing to do (ring empty, or disabled with nothing in flight)
    RUNNING = 1  #: descriptors pending or in flight
    PAUSED = 2   #: ``control.pause`` set and every started descriptor completed
    HALTED = 3   #: stopped on an error; ``control.reset`` returns it to IDLE


CHANNEL = RegisterBlock("channel", """\
One DMA channel: a ring of 64-byte descriptors in memory.  Software writes descriptors at
`tail`, then writes `tail` (the doorbell); the engine fetches from `head` up to (never past)
`tail`, and advances `head` as each descriptor's completion record is written.  Change
`ring_base`/`ring_size` only while the channel is idle and disabled.""", [
    Register("ring_base", 0x00, "Address of ring entry 0 (64-byte aligned; bits 5:0 are ignored).", [
        Field("addr", 64, RW, "ring base address"),
    ], width=64),
    Register("ring_size", 0x08, "Ring size: 2**log2 entries.", [
        Field("log2", 5, RW, "log2 of the number of entries, 1..15", reset=4),
    ]),
    Register("head", 0x0C, "Index of the next descriptor to complete (engine-owned).", [
        Field("index", 16, R, "ring index"),
    ]),
    Register("tail", 0x10, "Doorbell: index one past the last descriptor software has written.", [
        Field("index", 16, RW, "ring index (taken modulo the ring size)"),
    ]),
    Register("control", 0x14, "Channel control.", [
        Field("enable", 1, RW, "fetch and execute descriptors"),
        Field("pause", 1, RW, "start no new descriptor; in-flight ones complete"),
        Field("reset", 1, W, "write 1: abort, drain outstanding bus transactions, clear a halt, "
                             "set head = tail (descriptors not yet completed stay PENDING)"),
    ]),
    Register("status", 0x18, "Channel status.", [
        Field("state", 2, R, "IDLE / RUNNING / PAUSED / HALTED (ChannelState)"),
    ]),
    Register("irq_enable", 0x1C, "Which events drive the channel's interrupt line.", [
        Field("done", 1, RW, "coalesced completions of descriptors with the IRQ flag"),
        Field("error", 1, RW, "the channel halted on an error"),
    ]),
    Register("irq_status", 0x20, "Pending events (write 1 to clear).", [
        Field("done", 1, RW1C, "completions reached the coalescing count or timeout"),
        Field("error", 1, RW1C, "the channel halted on an error"),
    ]),
    Register("coalesce", 0x24, "Interrupt coalescing for IRQ-flagged completions.", [
        Field("count", 8, RW, "raise `done` after this many completions (0 or 1: each one)"),
        Field("timeout", 24, RW, "or this many cycles after the first pending one (0: never)"),
    ]),
    Register("err_index", 0x28, "Ring index of the descriptor that halted the channel.", [
        Field("index", 16, R, "ring index"),
    ]),
    Register("err_code", 0x2C, "Why the channel halted (ErrorCode).", [
        Field("code", 8, R, "error code"),
    ]),
    Register("err_addr", 0x30, "Faulting address (read low half first).", [
        Field("addr", 64, R, "address"),
    ], width=64),
    Register("completed", 0x38, "Descriptors completed without error since reset.", [
        Field("count", 32, R, "count (wraps)"),
    ]),
    Register("device_id", 0x3C, "Device ID this channel's bus requests carry in AxUSER.", [
        Field("id", 8, R, "device ID"),
    ]),
    Register("doorbell_cycle", 0x40, "Cycle counter when `tail` last changed (profiling).", [
        Field("cycle", 32, R, "low 32 bits of system.cycles"),
    ]),
    Register("done_cycle", 0x44, "Cycle counter when the last completion record was acknowledged.", [
        Field("cycle", 32, R, "low 32 bits of system.cycles"),
    ]),
], size=0x100)

CHANNEL_BASE = 0x100
CHANNEL_STRIDE = 0x100


def register_map(channels=4):
    """The register map of an instance with ``channels`` DMA channels."""
    if not isinstance(channels, int) or not 1 <= channels <= 16:
        raise ValueError(f"channels must be an integer in 1..16, not {channels!r}")
    return RegisterMap("sgdma", "sgdma register map", [
        Placement(SYSTEM, 0x0000),
        Placement(CHANNEL, CHANNEL_BASE, count=channels, stride=CHANNEL_STRIDE),
    ])


#: The map of the default build (4 channels); documentation and the C header show it.
SGDMA = register_map(4)
