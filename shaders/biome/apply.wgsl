// Exclusive ops, third phase: from the grid as it was before the ops (prev_*), write each
// cell's new contents. Actor updates come first (an EARTH cell whose slide was accepted
// takes the old contents of its target), then target updates on top (a VOID filled by
// AIR becomes AIR with zero state; a slide's target becomes the EARTH with its state and
// id). Cells that no op touches are left as they are.

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> proposal: array<u32>;
@group(0) @binding(2) var<storage, read> choice: array<u32>;
@group(0) @binding(3) var<storage, read> prev_types: array<u32>;
@group(0) @binding(4) var<storage, read> prev_state: array<f32>;
@group(0) @binding(5) var<storage, read> prev_ids: array<u32>;
@group(0) @binding(6) var<storage, read_write> types: array<u32>;
@group(0) @binding(7) var<storage, read_write> state: array<f32>;
@group(0) @binding(8) var<storage, read_write> ids: array<u32>;

// Writes the old contents of `source` into `cell`.
fn take(cell: u32, source: u32) {
    types[cell] = prev_types[source];
    ids[cell] = prev_ids[source];
    for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
        state[cell * params.channels + ch] = prev_state[source * params.channels + ch];
    }
}

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
    let k = proposal[cell];
    if (k != NO_SLOT) {
        let target_cell = u32(neighbor(cell, k));
        if (choice[target_cell] == 8u - k && prev_types[cell] == EARTH) {
            take(cell, target_cell);
        }
    }
    let j = choice[cell];
    if (j != NO_SLOT) {
        let actor = u32(neighbor(cell, j));
        let actor_type = prev_types[actor];
        if (actor_type == AIR) {
            types[cell] = AIR;
            ids[cell] = 0u;
            for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
                state[cell * params.channels + ch] = 0.0;
            }
        } else if (actor_type == EARTH) {
            take(cell, actor);
        }
    }
}
