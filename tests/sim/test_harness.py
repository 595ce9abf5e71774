"""The simulation harness: its Verilog clean-up keeps the design's meaning, and a partial bench
run (`-k`) refreshes its own records in results.json and keeps the rest."""

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


def test_partial_bench_run_keeps_other_records():
    from sgdma.sim.bench import merge_records
    old = [{"bench": "memcpy", "params": {"size": 64, "count": 2}, "cycles": 10},
           {"bench": "memcpy", "params": {"count": 1, "size": 64}, "cycles": 20},
           {"bench": "bridge-read", "params": {"cycles_per_byte": 1}, "cycles": 30}]
    new = [{"bench": "bridge-read", "params": {"cycles_per_byte": 1}, "cycles": 31},
           {"bench": "bridge-mmio", "params": {}, "cycles": 40}]
    merged = merge_records(old, new)
    assert [r["cycles"] for r in merged] == [10, 20, 31, 40]
    assert merge_records([], new) == new
    # parameters match whatever their order
    assert merge_records(old, [{"bench": "memcpy", "params": {"size": 64, "count": 1},
                                "cycles": 21}])[1]["cycles"] == 21
