// Simulation storage for AXI4Memory(storage="verilog"): one synchronous read port (old data
// on a same-cycle write), one write port with byte enables.  Large memories built this way
// skip Yosys entirely (an Amaranth Memory of a million words takes many minutes to convert).
module sgdma_sim_ram #(
    parameter WIDTH = 64,
    parameter DEPTH = 1024,
    parameter ABITS = 10
) (
    input  wire               clk,
    input  wire [ABITS-1:0]   raddr,
    input  wire               ren,
    output reg  [WIDTH-1:0]   rdata,
    input  wire [ABITS-1:0]   waddr,
    input  wire [WIDTH/8-1:0] wen,
    input  wire [WIDTH-1:0]   wdata
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    integer i;
    always @(posedge clk) begin
        if (ren)
            rdata <= mem[raddr];
        for (i = 0; i < WIDTH / 8; i = i + 1)
            if (wen[i])
                mem[waddr][8 * i +: 8] <= wdata[8 * i +: 8];
    end
endmodule
