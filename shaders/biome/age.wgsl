// Aging, the last sub-step: every agent cell grows one step older. In whole steps the
// exclusive ops' last kernel does this (biome/apply with AGING); this kernel runs the
// sub-step on its own.
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome
#import biome/aging

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
#import biome/state_write

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let cell = linear_workgroup(wid, nwg) * WG + lid;
    if (cell >= cell_count()) {
        return;
    }
    grow_older(cell);
}
