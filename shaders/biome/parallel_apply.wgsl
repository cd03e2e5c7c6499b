// Applies the parallel op, one invocation per cell: the cell gathers what each agent
// neighbour (and itself) sent it, clips its nutrients to [0, cap] (the agent cap for
// agents, the material cap for the rest), and an agent that ran its program adds its
// state change and takes its new type.
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome
#import biome/control

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> slot_ok: array<u32>;
@group(0) @binding(2) var<storage, read> share: array<f32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read> list: array<u32>;
@group(0) @binding(5) var<storage, read> list_pos: array<u32>;
@group(0) @binding(6) var<storage, read> control: array<u32>;
@group(0) @binding(7) var<storage, read_write> types: array<u32>;
#import biome/state_write

@group(0) @binding(9) var<uniform> table: Table;

const SHARE_STRIDE: u32 = 24u;
const NOT_LISTED: u32 = 0xffffffffu;

// The list position of the cell if it ran its program in the parallel op.
fn ran(n: u32) -> u32 {
    let pos = list_pos[n];
    if (pos >= min(control[CONTROL_LISTED], table.capacity) || list[pos] != n || slot_ok[world_of(n) * table.slots + ids[n]] == 0u) {
        return NOT_LISTED;
    }
    return pos;
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
    let t = types[cell];
    var received = vec2<f32>(0.0);
    // Agents send to agents only: a material cell's gathering would find nothing.
    let at = place_of(cell);
    for (var k = 0u; k < 9u && is_agent(t); k = k + 1u) {
        let n = neighbor_at(at, k);
        if (n < 0) {
            continue;
        }
        let pos = ran(u32(n));
        if (pos == NOT_LISTED) {
            continue;
        }
        let at = pos * SHARE_STRIDE + (8u - k) * 2u;
        received = received + vec2<f32>(share[at], share[at + 1u]);
    }
    let own = ran(cell);
    let s = params.channels;
    let base = cell * s;
    let cap = select(params.material_cap, params.nutrient_cap, is_agent(t));
    let before = vec2<f32>(state_at(base + EARTH_NUTRIENT), state_at(base + AIR_NUTRIENT));
    let clipped = clamp(before + received, vec2<f32>(0.0), cap);
    if (any(clipped != before)) {
        state_put(base + EARTH_NUTRIENT, clipped.x);
        state_put(base + AIR_NUTRIENT, clipped.y);
    }
    if (own != NOT_LISTED) {
        let rec = own * SHARE_STRIDE;
        for (var j = 0u; j + AGENT_STATE < s; j = j + 1u) {
            state_put(base + AGENT_STATE + j, state_at(base + AGENT_STATE + j) + share[rec + 18u + j]);
        }
        types[cell] = u32(share[rec + 22u]);
    }
}
