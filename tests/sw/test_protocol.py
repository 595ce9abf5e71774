"""The wire protocol's encoding and the host parser: round trips, resynchronization, CRC."""

import random
import struct

import pytest

from sgdma.sw.protocol import (CRC_RESIDUE, MAX_WORDS, DeviceStatus, Kind, Op, RequestParser, ResponseParser,
                               crc32, encode_request, encode_response, request_size, response_size)


def _register(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 if c & 1 else 0)
    return c


def test_crc_residue_is_what_the_bridge_checks():
    body = b"\x02\x07\x00\x10\x00\x00\x00\x78\x56\x34\x12"
    assert _register(body + struct.pack("<I", crc32(body))) == CRC_RESIDUE


def test_request_round_trip_and_sizes():
    frame = encode_request(Op.WRITE, 300, 0x1234, words=[1, 2, 3])
    assert len(frame) == request_size(Op.WRITE, 3) == 8 + 12 + 4
    (req,) = RequestParser().feed(frame)
    assert (req.op, req.seq, req.addr, req.n, req.words) == (Op.WRITE, 300 & 0xFF, 0x1234, 3, [1, 2, 3])
    assert len(encode_request(Op.READ, 1, 0, n=MAX_WORDS)) == request_size(Op.READ, MAX_WORDS) == 12


@pytest.mark.parametrize("bad", [dict(op=Op.READ, seq=0, addr=0, n=0), dict(op=Op.READ, seq=0, addr=0, n=257),
                                 dict(op=Op.READ, seq=0, addr=1 << 32),
                                 dict(op=Op.READ, seq=0, addr=0, words=[1]),
                                 dict(op=Op.WRITE, seq=0, addr=0, words=[1 << 32])])
def test_request_arguments_are_checked(bad):
    with pytest.raises(ValueError):
        encode_request(**bad)


def test_response_parser_finds_frames_in_garbage_in_pieces():
    rng = random.Random(5)
    frames = [encode_response(Kind.ACK_READ, k, 3, [k, k + 1, k + 2], resp=k & 3, info=k) for k in range(20)]
    frames += [encode_response(Kind.IRQ, 0, 1, [5]), encode_response(Kind.NAK, 9, 1, resp=1),
               encode_response(Kind.ACK_STATUS, 4, 1, DeviceStatus(1, 1, 2, 4, 15, 3, 0, 0).to_words())]
    stream = b""
    for f in frames:
        stream += bytes(rng.choice([0x5A, 0x00, 0xFF, 0x81, 0x03]) for _ in range(rng.randrange(6))) + f
    p, got = ResponseParser(), []
    pos = 0
    while pos < len(stream):
        n = rng.randrange(1, 40)
        got += p.feed(stream[pos:pos + n])
        pos += n
    assert [(r.kind, r.seq, r.words) for r in got] == [(Kind(f[1]), f[2], ResponseParser._decode(f).words)
                                                      for f in frames]
    status = DeviceStatus.from_words(got[-1].words)
    assert (status.expected_seq, status.irq_lines, status.irq_mask, status.irq) == (2, 4, 15, 3)


def test_corrupt_frames_are_never_delivered():
    rng = random.Random(7)
    good = encode_response(Kind.ACK_READ, 1, 4, [1, 2, 3, 4])
    for _ in range(2000):
        bad = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        if bytes(bad) == good:
            continue
        out = ResponseParser().feed(bytes(bad))
        # a flipped length byte may make the frame look incomplete; nothing corrupt comes out
        assert all(r.words == [1, 2, 3, 4] and r.seq == 1 for r in out)
        assert not out


def test_response_sizes():
    assert response_size(Kind.ACK_WRITE, 256) == 10
    assert response_size(Kind.ACK_READ, 256) == 10 + 1024
    assert response_size(Kind.ACK_STATUS, 1) == 26
