"""In-memory formats of the DMA engine, declared once (see :mod:`sgdma.sw.fmtdef`).

A descriptor is 64 bytes (one cache line) in a per-channel ring.  The engine writes the
16-byte completion record at its end once every data write of the descriptor has been
acknowledged.
"""

import enum

from .fmtdef import Int, Reserved, Struct, Union

__all__ = ["Opcode", "Status", "ErrorCode", "Descriptor", "Control", "SgEntry",
           "Completion", "NdParams", "SgParams", "DESCRIPTOR_SIZE", "SG_ENTRY_SIZE"]


class Opcode(enum.IntEnum):
    """What a descriptor does.  0 is never valid, so a zeroed ring slot is rejected."""
    COPY = 1  #: copy source to destination (contiguous, SG list or N-D on either side)
    FILL = 2  #: repeat the 64-bit pattern in ``src`` over the destination


class Status(enum.IntEnum):
    """``Completion.status``: software writes PENDING (0) before handing a descriptor over."""
    PENDING = 0
    DONE = 1
    ERROR = 2


class ErrorCode(enum.IntEnum):
    """``Completion.code`` and the channel's error register."""
    NONE = 0
    READ_SLVERR = 1   #: data read answered SLVERR
    READ_DECERR = 2   #: data read answered DECERR
    WRITE_SLVERR = 3  #: data write answered SLVERR
    WRITE_DECERR = 4  #: data write answered DECERR
    DESC_ERR = 5      #: descriptor fetch answered an error
    SGL_ERR = 6       #: SG-list fetch answered an error
    INVALID = 7       #: malformed descriptor (opcode, zero length/count, reserved bits, SG lengths)
    COMPLETION_ERR = 8  #: writing a completion record answered an error (channel registers only)


Control = Struct("control", "descriptor control word", [
    Int("opcode", 4, "operation", enum=Opcode),
    Int("irq", 1, "raise the channel interrupt (subject to coalescing) when this completes"),
    Int("fence", 1, "start only after every earlier write of this channel has its B response"),
    Int("src_sgl", 1, "src is the address of an SG list of src_count entries"),
    Int("dst_sgl", 1, "dst is the address of an SG list of dst_count entries"),
    Int("ndim", 2, "dimensions of an N-D transfer: 0 or 1 = one row, 2 or 3 use the N-D params"),
    Reserved("rsvd", 22),
])

NdParams = Struct("nd_params", "N-D shape (ndim 2 or 3): rows of `length` bytes", [
    Int("src_stride0", 32, "bytes between rows (dimension 1) at the source", signed=True),
    Int("src_stride1", 32, "bytes between planes (dimension 2) at the source", signed=True),
    Int("dst_stride0", 32, "bytes between rows (dimension 1) at the destination", signed=True),
    Int("dst_stride1", 32, "bytes between planes (dimension 2) at the destination", signed=True),
    Int("count0", 32, "rows per plane (dimension 1), >= 1"),
    Int("count1", 32, "planes (dimension 2), >= 1; 1 when ndim = 2"),
])

SgParams = Struct("sg_params", "SG list sizes and offload parameters", [
    Int("src_count", 32, "entries in the source SG list (src_sgl)"),
    Int("dst_count", 32, "entries in the destination SG list (dst_sgl)"),
    Int("mss", 16, "offload: maximum segment size"),
    Int("hdr_len", 16, "offload: header length"),
    Int("csum_start", 16, "offload: checksum start"),
    Int("csum_offset", 16, "offload: checksum field offset from csum_start"),
    Reserved("rsvd", 64),
])

Completion = Struct("completion", "completion record, written by the engine", [
    Int("status", 8, "PENDING / DONE / ERROR", enum=Status),
    Int("code", 8, "error code", enum=ErrorCode),
    Int("csum", 16, "ones'-complement sum (offload)"),
    Int("bytes", 32, "bytes written to the destination"),
    Int("addr", 64, "faulting address when status is ERROR"),
])

Descriptor = Struct("descriptor", "64-byte DMA descriptor, one ring slot", [
    Int("src", 64, "source address, SG list address, or FILL pattern"),
    Int("dst", 64, "destination address or SG list address"),
    Int("length", 32, "bytes in total (1-D, SG) or bytes per row (N-D), >= 1"),
    Control,
    Union("params", "operation parameters", [NdParams, SgParams]),
    Completion,
])

SgEntry = Struct("sg_entry", "scatter-gather list entry", [
    Int("addr", 64, "fragment address, any byte alignment"),
    Int("len", 32, "fragment length in bytes, >= 1"),
    Reserved("flags", 32),
])

DESCRIPTOR_SIZE = Descriptor.size
SG_ENTRY_SIZE = SgEntry.size
assert DESCRIPTOR_SIZE == 64 and SG_ENTRY_SIZE == 16
