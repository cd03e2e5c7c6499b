// Fills a buffer with a random stream: element i is lane i % 4 of the Philox block
// counter = (i / 4, stream, 0, 0) under key = seed. RAW writes the 32-bit words,
// UNIFORM floats in (0, 1), NORMAL standard normals (floats stored as their bits).
//! variants: RAW|UNIFORM|NORMAL

override WG: u32 = 64u;

#import grid
#import rng

struct Params {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    stream: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let block = linear_workgroup(wid, nwg) * WG + lid;
    let first = block * 4u;
    if (first >= params.n) {
        return;
    }
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    let counter = vec4<u32>(block, params.stream, 0u, 0u);
#ifdef RAW
    let words = philox4x32_10(counter, key);
#endif
#ifdef UNIFORM
    let words = bitcast<vec4<u32>>(rng_uniform4(key, counter));
#endif
#ifdef NORMAL
    let words = bitcast<vec4<u32>>(rng_normal4(key, counter));
#endif
    for (var lane = 0u; lane < 4u; lane = lane + 1u) {
        if (first + lane < params.n) {
            dst[first + lane] = words[lane];
        }
    }
}
