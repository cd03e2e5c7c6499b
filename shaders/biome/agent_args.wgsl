// Indirect dispatch arguments for a kernel over the agent list: enough workgroups of
// WG invocations for the listed agents, folded into x and y beyond 65535.
// control: CONTROL_LISTED agents appended (the list holds at most `capacity`).

override WG: u32 = 64u;

#import biome/control

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

const MAX_PER_DIM: u32 = 65535u;

@compute @workgroup_size(1)
fn main() {
    let groups = (min(control[CONTROL_LISTED], table.capacity) + WG - 1u) / WG;
    let y = max((groups + MAX_PER_DIM - 1u) / MAX_PER_DIM, 1u);
    args[0] = (groups + y - 1u) / y;
    args[1] = y;
    args[2] = 1u;
}
