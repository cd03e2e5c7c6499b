// Exclusive ops, third phase: from the grid as it was before the ops (prev_*), write each
// cell's new contents. Actor updates come first (an EARTH cell whose slide was accepted
// takes the old contents of its target; an agent whose spawn was accepted keeps its
// share of the spendable nutrients and changes its internal state), then target updates
// on top (a VOID filled by AIR becomes AIR with zero state; a slide's target becomes the
// EARTH with its state and id; a spawn's target becomes an UNSPECIALIZED child with the
// parent's age and id). Cells that no op touches are left as they are. With AGING the
// step's last sub-step follows in the same invocation: the cell, as written, grows older
// (biome/age), which saves whole steps a dispatch.
//! variants: |AGING
//! generated: biome/prev_state_read
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome
#import biome/aging

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> proposal: array<u32>;
@group(0) @binding(2) var<storage, read> choice: array<u32>;
@group(0) @binding(3) var<storage, read> prev_types: array<u32>;
#import biome/prev_state_read
@group(0) @binding(5) var<storage, read> prev_ids: array<u32>;
@group(0) @binding(6) var<storage, read_write> types: array<u32>;
#import biome/state_write
@group(0) @binding(8) var<storage, read_write> ids: array<u32>;
@group(0) @binding(9) var<storage, read> spawn: array<f32>;
@group(0) @binding(10) var<storage, read> list_pos: array<u32>;

const SPAWN_STRIDE: u32 = 12u;

// What a spawning agent can spend: its nutrients above the spawn cost.
fn spendable(actor: u32) -> vec2<f32> {
    let b = actor * params.channels;
    let own = vec2<f32>(prev_state_at(b + EARTH_NUTRIENT), prev_state_at(b + AIR_NUTRIENT));
    return max(own - params.spawn_cost, vec2<f32>(0.0));
}

// Writes the old contents of `source` into `cell`.
fn take(cell: u32, source: u32) {
    types[cell] = prev_types[source];
    ids[cell] = prev_ids[source];
    for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
        state_put(cell * params.channels + ch, prev_state_at(source * params.channels + ch));
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
    apply_ops(cell);
#ifdef AGING
    grow_older(cell);
#endif
}

fn apply_ops(cell: u32) {
    let k = proposal[cell];
    if (k != NO_SLOT) {
        let target_cell = u32(neighbor(cell, k));
        if (choice[target_cell] == 8u - k) {
            let t = prev_types[cell];
            if (t == EARTH) {
                take(cell, target_cell);
            } else if (is_agent(t)) {
                let payload = list_pos[cell] * SPAWN_STRIDE;
                let keep = spendable(cell) * (1.0 - spawn[payload]);
                let b = cell * params.channels;
                state_put(b + EARTH_NUTRIENT, keep.x);
                state_put(b + AIR_NUTRIENT, keep.y);
                for (var j = 0u; j + AGENT_STATE < params.channels; j = j + 1u) {
                    state_put(b + AGENT_STATE + j, prev_state_at(b + AGENT_STATE + j) + spawn[payload + 5u + j]);
                }
            }
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
                state_put(cell * params.channels + ch, 0.0);
            }
        } else if (actor_type == EARTH) {
            take(cell, actor);
        } else if (is_agent(actor_type)) {
            let payload = list_pos[actor] * SPAWN_STRIDE;
            let child = spendable(actor) * spawn[payload];
            let b = cell * params.channels;
            types[cell] = UNSPECIALIZED;
            ids[cell] = prev_ids[actor];
            state_put(b + INTEGRITY, 0.0);
            state_put(b + AGE, prev_state_at(actor * params.channels + AGE));
            state_put(b + EARTH_NUTRIENT, child.x);
            state_put(b + AIR_NUTRIENT, child.y);
            for (var j = 0u; j + AGENT_STATE < params.channels; j = j + 1u) {
                state_put(b + AGENT_STATE + j, spawn[payload + 1u + j]);
            }
        }
    }
}
