"""The sgdma register map, declared once (see :mod:`sgdma.sw.regdef`).

RTL register banks, the driver's register access, ``docs/registers.md`` and
``include/sgdma_regs.h`` are all generated from :data:`SGDMA`.
"""

from .regdef import Access, Field, Placement, Register, RegisterBlock, RegisterMap

__all__ = ["SYSTEM", "SGDMA", "ID_MAGIC", "VERSION_MAJOR", "VERSION_MINOR"]

ID_MAGIC = 0x5347444D  # "SGDM"
VERSION_MAJOR = 0
VERSION_MINOR = 1

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
    ]),
    Register("scratch", 0x0C, "Free for software: proves the bus works.", [
        Field("value", 32, RW, "any value"),
    ]),
    Register("cycles", 0x10, "Free-running clock cycle counter (read low half first).", [
        Field("count", 64, R, "cycles since reset"),
    ], width=64),
], size=0x100)

SGDMA = RegisterMap("sgdma", "sgdma SoC register map", [
    Placement(SYSTEM, 0x0000),
])
