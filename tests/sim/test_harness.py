"""The simulation harness's Verilog clean-up keeps the design's meaning."""

from sgdma.sim.harness import _strip_zero_memory_init


def test_zero_init_stripped_only_from_initial_blocks():
    """A memory's zero initialisation goes (Verilator zeroes it); the same-looking line in a
    combinational block is a bit's default and stays -- dropping it once turned a queue's
    input bit into a latch in simulation (a DONE completion reported as ERROR)."""
    text = ("  reg [3:0] storage [1:0];\n"
            "  initial begin\n"
            "    storage[0] = 4'h0;\n"
            "    storage[1] = 4'h5;\n"
            "  end\n"
            "  always @* begin\n"
            "    x[3] = 1'h0;\n"
            "    if (c) x = y;\n"
            "  end\n")
    out = _strip_zero_memory_init(text)
    assert "storage[0] = 4'h0;" not in out
    assert "storage[1] = 4'h5;" in out
    assert "    x[3] = 1'h0;\n" in out
    assert out.count("end\n") == 2
