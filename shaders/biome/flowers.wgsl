// Before reproduction, one invocation per listed agent: counts the living cells of each
// program slot (for choosing free slots), and lists the flowers that may reproduce: the
// program asks for it (every nutrient, normalised, above its threshold), the flower
// holds at least the reproduce cost, and it touches AIR. Each candidate carries the key
// log(AIR neighbours) + Gumbel noise: the largest keys are a draw without replacement
// with probability proportional to the AIR neighbours. Counts and candidates are per
// world: world w's slot counts at [w * slots, (w + 1) * slots), its candidates from its
// first cell on, counted in control[CONTROL_CANDIDATES + w].
// control: see biome/control.
//! generated: biome/state_read
//! generated: biome/candidates_write

override WG: u32 = 64u;

#import grid
#import agent
#import biome/control
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> agent: AgentLayout;
@group(0) @binding(2) var<storage, read> programs: array<f32>;
@group(0) @binding(3) var<storage, read> slot_ok: array<u32>;
@group(0) @binding(4) var<storage, read> types: array<u32>;
#import biome/state_read
@group(0) @binding(6) var<storage, read> ids: array<u32>;
@group(0) @binding(7) var<storage, read> list: array<u32>;
@group(0) @binding(8) var<storage, read_write> control: array<atomic<u32>>;
@group(0) @binding(9) var<storage, read_write> id_counts: array<atomic<u32>>;
#import biome/candidates_write
@group(0) @binding(11) var<storage, read> seeds: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    if (i >= min(atomicLoad(&control[CONTROL_LISTED]), agent.capacity)) {
        return;
    }
    let cell = list[i];
    let slot = table_slot(cell);
    atomicAdd(&id_counts[slot], 1u);
    if (types[cell] != FLOWER || slot_ok[slot] == 0u) {
        return;
    }
    load_window(cell);
    let wants = norm(4u, EARTH_NUTRIENT) > p(agent.repr_threshold)
        && norm(4u, AIR_NUTRIENT) > p(agent.repr_threshold + 1u);
    let affordable = raw(4u, EARTH_NUTRIENT) >= params.reproduce_cost.x
        && raw(4u, AIR_NUTRIENT) >= params.reproduce_cost.y;
    let air = average_type(AIR) * 8.0;
    if (!wants || !affordable || air == 0.0) {
        return;
    }
    let u = rng_u01(step_bits(cell, STREAM_REPRODUCE, 0u).x);
    let key = log(air) - log(-log(u));
    let world = world_of(cell);
    let entry = atomicAdd(&control[CONTROL_CANDIDATES + world], 1u);
    if (entry < world_cells()) {
        candidates_put(world_base(world) + entry, vec2<u32>(bitcast<u32>(key), cell));
    }
}
