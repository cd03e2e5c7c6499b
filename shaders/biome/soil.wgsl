// Soil balance, one thread per column of each world: at the topmost AIR/SUN cell over EARTH/IMMOVABLE,
// earth too high up turns to AIR and air too low down turns to EARTH, each with
// probability 0.05 per step. Only recorded when the limit is above zero.
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> types: array<u32>;
#import biome/state_write
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<storage, read> seeds: array<vec2<u32>>;

const CONVERT_PROBABILITY: f32 = 0.05;

fn reset(cell: u32, t: u32) {
    types[cell] = t;
    ids[cell] = 0u;
    for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
        state_put(cell * params.channels + ch, 0.0);
    }
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let column = linear_workgroup(wid, nwg) * WG + lid;
    if (column >= params.width * params.worlds) {
        return;
    }
    let w = params.width;
    let world = column / w;
    let col = column % w;
    let base = world_base(world);
    var surface = NO_SLOT;
    for (var r = 0u; r + 1u < params.height; r = r + 1u) {
        let upper = types[base + r * w + col];
        let lower = types[base + (r + 1u) * w + col];
        if ((upper == AIR || upper == SUN) && (lower == EARTH || lower == IMMOVABLE)) {
            surface = r;
            break;
        }
    }
    if (surface == NO_SLOT) {
        return;
    }
    let u = rng_uniform4(world_key(world), vec4<u32>(col, params.step, STREAM_SOIL, 0u));
    if (surface + 1u < params.earth_min_row && u.x < CONVERT_PROBABILITY) {
        reset(base + (surface + 1u) * w + col, AIR);
    }
    if (surface > params.air_max_row && u.y < CONVERT_PROBABILITY) {
        reset(base + surface * w + col, EARTH);
    }
}
