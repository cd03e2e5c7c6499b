// Indirect dispatch arguments for a kernel over the agent list (biome/agent_dispatch),
// one invocation. Whole steps write them in other kernels instead: gravity for
// reproduction's list (biome/gravity with LIST_MOVES), the proposals for the exclusive
// ops' (biome/propose with AGENT_ARGS); this kernel serves the parallel op's list and
// sub-steps run alone.
// control: CONTROL_LISTED agents appended (the list holds at most `capacity`).

override WG: u32 = 64u;

#import biome/agent_dispatch

// The table block of `common/biome.wgsl` (this kernel has no step parameters).
struct Table {
    slots: u32,
    capacity: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read> control: array<u32>;
@group(0) @binding(2) var<storage, read_write> args: array<u32>;

@group(0) @binding(1) var<uniform> table: Table;

@compute @workgroup_size(1)
fn main() {
    write_agent_args(WG);
}
