// Simulation model of the iCE40 UltraPlus single-port RAM (16K x 16, nibble write masks), for
// AXI4Memory(storage="ice40_spram") under Verilator.  Synthesis uses the real primitive.
// A read's data appears after the clock edge and holds until the next read.
module SB_SPRAM256KA (
    input  [13:0] ADDRESS,
    input  [15:0] DATAIN,
    input  [3:0]  MASKWREN,
    input         WREN,
    input         CHIPSELECT,
    input         CLOCK,
    input         STANDBY,
    input         SLEEP,
    input         POWEROFF,
    output reg [15:0] DATAOUT
);
    reg [15:0] mem [0:16383];
    integer i;
    always @(posedge CLOCK) begin
        if (CHIPSELECT && !STANDBY && !SLEEP && POWEROFF) begin
            if (WREN) begin
                for (i = 0; i < 4; i = i + 1)
                    if (MASKWREN[i]) mem[ADDRESS][4 * i +: 4] <= DATAIN[4 * i +: 4];
            end else begin
                DATAOUT <= mem[ADDRESS];
            end
        end
    end
endmodule
