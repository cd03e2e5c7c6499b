// Energy, second half: roots and leaves absorb what the materials around them offer,
// agents dissipate, old agents leak nutrients, and an agent left with exactly zero of a
// nutrient dies (to AIR if it ran out of earth nutrient, EARTH if of air nutrient, VOID
// if of both). Material cells keep what they did not give. The agents still living are
// listed for the exclusive ops (biome/enlist; `control` cleared before this pass).
//! generated: biome/offer_read
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome
#import biome/enlist

@group(0) @binding(0) var<uniform> params: Params;
#import biome/offer_read
@group(0) @binding(2) var<storage, read_write> types: array<u32>;
#import biome/state_write
@group(0) @binding(4) var<storage, read_write> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> list: array<u32>;
@group(0) @binding(6) var<storage, read_write> list_pos: array<u32>;
@group(0) @binding(7) var<storage, read_write> control: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> table: Table;

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
    let base = cell * params.channels;
    var nutrients = offer_at(cell).zw;
    if (is_agent(t)) {
        var fractions = vec2<f32>(0.0);
        let at = place_of(cell);
        for (var k = 0u; k < 9u; k = k + 1u) {
            let n = neighbor_at(at, k);
            if (n >= 0) {
                fractions = fractions + offer_at(u32(n)).xy;
            }
        }
        let ask = params.absorption * vec2<f32>(f32(t == ROOT), f32(t == LEAF));
        let own = vec2<f32>(state_at(base + EARTH_NUTRIENT), state_at(base + AIR_NUTRIENT));
        let lost = params.dissipation * dissipation_rate(t);
        nutrients = clamp(own + ask * fractions - lost, vec2<f32>(0.0), params.nutrient_cap);
    }
    let half_life = params.max_lifetime * 0.5;
    let age = state_at(base + AGE);
    if (age >= half_life) {
        nutrients = nutrients * max(1.0 - (age - half_life) / half_life, 0.0);
    }
    if (is_agent(t) && (nutrients.x == 0.0 || nutrients.y == 0.0)) {
        types[cell] = select(0u, EARTH, nutrients.x != 0.0) + select(0u, AIR, nutrients.y != 0.0);
        ids[cell] = 0u;
        for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
            state_put(base + ch, 0.0);
        }
    }
    state_put(base + EARTH_NUTRIENT, nutrients.x);
    state_put(base + AIR_NUTRIENT, nutrients.y);
    if (is_agent(types[cell])) {
        enlist(cell);
    }
}
