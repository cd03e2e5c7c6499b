// Energy, first half: nutrient diffusion in the media, then what each material cell can
// give the roots and leaves around it. Earth nutrient diffuses among EARTH cells with
// IMMOVABLE as a source at the material cap, air nutrient among AIR cells with SUN as the
// source; every other cell's material nutrient becomes 0. A material cell asked for T in
// total by the agents around it gives each the fraction clip(v / T, 0, 1) of its ask and
// keeps max(v - T, 0).
// Output per cell: (fraction earth, fraction air, kept earth, kept air).
//! generated: biome/state_read
//! generated: biome/offer_write

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
#import biome/state_read
#import biome/offer_write

const DIFFUSION_RATE: f32 = 0.1;

// (earth, air) nutrient a cell holds as a medium, and whether it takes part in each
// medium's diffusion.
fn medium(cell: u32) -> vec4<f32> {
    let t = types[cell];
    let base = cell * params.channels;
    var v = vec4<f32>(0.0);
    if (t == EARTH) {
        v.x = state_at(base + EARTH_NUTRIENT);
        v.z = 1.0;
    } else if (t == IMMOVABLE) {
        v.x = params.material_cap.x;
        v.z = 1.0;
    } else if (t == AIR) {
        v.y = state_at(base + AIR_NUTRIENT);
        v.w = 1.0;
    } else if (t == SUN) {
        v.y = params.material_cap.y;
        v.w = 1.0;
    }
    return v;
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
    let own = medium(cell);
    var flow = vec2<f32>(0.0);
    var asked = vec2<f32>(0.0);
    let at = place_of(cell);
    for (var k = 0u; k < 9u; k = k + 1u) {
        let n = neighbor_at(at, k);
        if (n < 0) {
            continue;
        }
        let other = medium(u32(n));
        flow = flow + other.zw * (other.xy - own.xy);
        let t = types[u32(n)];
        asked = asked + params.absorption * vec2<f32>(f32(t == ROOT), f32(t == LEAF));
    }
    let t = types[cell];
    let is_medium = vec2<f32>(f32(t == EARTH), f32(t == AIR));
    let available = (own.xy + DIFFUSION_RATE * flow) * is_medium;
    let fraction = clamp(available / max(asked, vec2<f32>(1e-6)), vec2<f32>(0.0), vec2<f32>(1.0));
    let kept = max(available - asked, vec2<f32>(0.0));
    offer_put(cell, vec4<f32>(fraction, kept));
}
