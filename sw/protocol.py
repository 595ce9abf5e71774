"""The bridge's wire protocol, declared once (``docs/protocol.md`` explains it).

The RTL bridge (:mod:`sgdma.rtl.bridge`) and the host link (:mod:`sgdma.sw.link`) both take
their constants from here.  Everything on the wire is little-endian.

Request (host -> device)::

    A5 | op | seq | n-1 | addr[4] | payload (WRITE: 4*n bytes) | crc32[4]

Response (device -> host)::

    5A | kind | seq | n-1 | data (ACK_READ: n words, ACK_STATUS: 4, IRQ: 1) | resp | info | crc32[4]

The CRC-32 (IEEE 802.3, as ``zlib.crc32``) covers every byte after the sync byte.
"""

import enum
import struct
import zlib
from dataclasses import dataclass, field

from .fmtdef import Int, Reserved, Struct

__all__ = ["SYNC_REQUEST", "SYNC_RESPONSE", "MAX_WORDS", "MAGIC", "PROTOCOL_VERSION", "Op", "Kind",
           "Nak", "DUPLICATE", "STATUS_WORDS", "BridgeStatus", "CRC_RESIDUE", "crc32", "encode_request",
           "encode_response", "Request", "Response", "DeviceStatus", "ResponseParser",
           "RequestParser", "request_size", "response_size", "SEQUENCED"]

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
MAX_WORDS = 256
MAGIC = 0x52424753            #: "SGBR" little-endian, status word 0
PROTOCOL_VERSION = 1
DUPLICATE = 0x80              #: ``resp`` bit: a retransmitted WRITE answered from the cache, not re-run
#: running CRC register after a whole frame *including* its CRC bytes (before the final xor)
CRC_RESIDUE = 0xDEBB20E3


class Op(enum.IntEnum):
    READ = 0x01       #: read n words from addr (sequenced; re-running a duplicate is harmless)
    WRITE = 0x02      #: write n words to addr (sequenced; a duplicate is never re-run)
    STATUS = 0x03     #: bridge status (unsequenced: seq is echoed, the expected seq is reported)
    IRQ_MASK = 0x04   #: addr = interrupt lines that send unsolicited IRQ frames; answers STATUS


SEQUENCED = (Op.READ, Op.WRITE)


class Kind(enum.IntEnum):
    NAK = 0x80          #: frame refused (resp = :class:`Nak` reason); nothing was executed
    ACK_READ = 0x81
    ACK_WRITE = 0x82
    ACK_STATUS = 0x83
    IRQ = 0x90          #: unsolicited: data word = interrupt lines (masked) now high


class Nak(enum.IntEnum):
    CRC = 1        #: CRC mismatch: the frame was corrupted
    SEQUENCE = 2   #: seq ahead of the expected one: an earlier frame was lost


def crc32(data, crc=0):
    return zlib.crc32(bytes(data), crc) & 0xFFFFFFFF


def _data_words(kind, n):
    return {Kind.ACK_READ: n, Kind.ACK_STATUS: STATUS_WORDS, Kind.IRQ: 1}.get(Kind(kind), 0)


def request_size(op, n):
    """Bytes of a request frame of ``n`` words."""
    return 8 + (4 * n if op == Op.WRITE else 0) + 4


def response_size(kind, n):
    return 4 + 4 * _data_words(kind, n) + 2 + 4


def _check_n(n):
    if not isinstance(n, int) or not 1 <= n <= MAX_WORDS:
        raise ValueError(f"a frame carries 1..{MAX_WORDS} words, not {n!r}")


def encode_request(op, seq, addr, n=1, words=()):
    """A request frame.  WRITE takes ``words`` (n = their count)."""
    op = Op(op)
    words = list(words)
    if op == Op.WRITE:
        n = len(words)
    elif words:
        raise ValueError(f"{op.name} carries no payload")
    _check_n(n)
    if not 0 <= addr < 1 << 32:
        raise ValueError(f"address {addr!r} does not fit in 32 bits")
    if any(not 0 <= w < 1 << 32 for w in words):
        raise ValueError("WRITE words must be 32-bit unsigned integers")
    body = struct.pack("<BBBI", op, seq & 0xFF, n - 1, addr) + struct.pack(f"<{len(words)}I", *words)
    return bytes([SYNC_REQUEST]) + body + struct.pack("<I", crc32(body))


def encode_response(kind, seq, n=1, words=(), resp=0, info=0):
    kind = Kind(kind)
    words = list(words)
    if len(words) != _data_words(kind, n):
        raise ValueError(f"{kind.name} with n={n} carries {_data_words(kind, n)} words, not {len(words)}")
    body = (struct.pack("<BBB", kind, seq & 0xFF, n - 1) + struct.pack(f"<{len(words)}I", *words) +
            bytes([resp, info]))
    return bytes([SYNC_RESPONSE]) + body + struct.pack("<I", crc32(body))


@dataclass
class Request:
    op: Op
    seq: int
    addr: int
    n: int
    words: list = field(default_factory=list)


@dataclass
class Response:
    kind: Kind
    seq: int
    n: int
    words: list
    resp: int
    info: int

    @property
    def axi_resp(self):
        """The first non-OKAY AXI response of the frame's words (0: all OKAY)."""
        return self.resp & 3

    @property
    def duplicate(self):
        return bool(self.resp & DUPLICATE)


#: ACK_STATUS's data words, declared once (the bridge builds them from this layout).
BridgeStatus = Struct("bridge_status", "the data words of ACK_STATUS", [
    Int("magic", 32, "0x52424753 ('SGBR')"),
    Int("version", 8, "protocol version"),
    Int("expected_seq", 8, "the seq the bridge runs next"),
    Int("irq_lines", 8, "interrupt inputs"),
    Reserved("rsvd", 8),
    Int("irq_mask", 16, "lines that send IRQ frames"),
    Int("irq", 16, "lines high now"),
    Int("crc_errors", 16, "frames refused for their CRC (wraps)"),
    Int("timeouts", 16, "partial frames dropped after the timeout (wraps)"),
])
STATUS_WORDS = BridgeStatus.size // 4


@dataclass
class DeviceStatus:
    """Decoded ACK_STATUS words (:data:`BridgeStatus`)."""
    magic: int
    version: int
    expected_seq: int
    irq_lines: int
    irq_mask: int
    irq: int
    crc_errors: int
    timeouts: int

    @classmethod
    def from_words(cls, w):
        fields = BridgeStatus.unpack(struct.pack(f"<{STATUS_WORDS}I", *w))
        del fields["rsvd"]
        return cls(**fields)

    def to_words(self):
        return list(struct.unpack(f"<{STATUS_WORDS}I", BridgeStatus.pack(self.__dict__)))


class _Parser:
    """Incremental frame parser: ``feed(bytes)`` returns the complete, CRC-valid frames.

    Bytes before a sync byte, frames with a bad CRC or an impossible header are skipped; after
    a bad frame the search restarts one byte after its sync byte, so a frame hidden behind
    garbage is still found.  ``dropped`` counts bytes thrown away.
    """
    SYNC = 0

    def __init__(self):
        self.buf = bytearray()
        self.dropped = 0
        self.bad_crc = 0

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            start = self.buf.find(bytes([self.SYNC]))
            if start < 0:
                self.dropped += len(self.buf)
                self.buf.clear()
                return out
            if start:
                self.dropped += start
                del self.buf[:start]
            size = self._size(self.buf)
            if size is None:            # impossible header: skip this sync byte
                self._skip()
                continue
            if size == 0 or len(self.buf) < size:
                return out              # need more bytes
            frame = bytes(self.buf[:size])
            if crc32(frame[1:-4]) != struct.unpack("<I", frame[-4:])[0]:
                self.bad_crc += 1
                self._skip()
                continue
            del self.buf[:size]
            out.append(self._decode(frame))

    def _skip(self):
        del self.buf[:1]
        self.dropped += 1


class ResponseParser(_Parser):
    SYNC = SYNC_RESPONSE

    @staticmethod
    def _size(buf):
        if len(buf) < 4:
            return 0
        try:
            kind = Kind(buf[1])
        except ValueError:
            return None
        return response_size(kind, buf[3] + 1)

    @staticmethod
    def _decode(frame):
        kind, seq, n1 = frame[1], frame[2], frame[3]
        nw = _data_words(kind, n1 + 1)
        words = list(struct.unpack(f"<{nw}I", frame[4:4 + 4 * nw]))
        resp, info = frame[4 + 4 * nw], frame[5 + 4 * nw]
        return Response(Kind(kind), seq, n1 + 1, words, resp, info)


class RequestParser(_Parser):
    """The device side in Python (used by tests and the protocol documentation's examples)."""
    SYNC = SYNC_REQUEST

    @staticmethod
    def _size(buf):
        if len(buf) < 4:
            return 0
        try:
            op = Op(buf[1])
        except ValueError:
            return None
        return request_size(op, buf[3] + 1)

    @staticmethod
    def _decode(frame):
        op, seq, n1, addr = struct.unpack("<BBBI", frame[1:8])
        words = list(struct.unpack(f"<{(len(frame) - 12) // 4}I", frame[8:-4]))
        return Request(Op(op), seq, addr, n1 + 1, words)
