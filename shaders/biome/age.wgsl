// Aging, the last sub-step: every agent cell grows one step older.
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome

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
    if (is_agent(types[cell])) {
        let i = cell * params.channels + AGE;
        state_put(i, state_at(i) + 1.0);
    }
}
