// The non-interacting model: each invocation moves one particle of one replica through
// the steps [from, to). Each step it moves one cell in a uniformly random direction; a
// move into a closed wall leaves it in place. Step t of particle p in replica r takes two
// bits of Philox counter (p, t / 64, r, STREAM_WALK). CPU twin: `reference::walk`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> particles: array<u32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    if (i >= params.replicas * params.particles) {
        return;
    }
    let replica = i / params.particles;
    let p = i % params.particles;
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    var cell = particles[i];
    var bits = vec4<u32>(0u);
    for (var t = params.first_step; t < params.end_step; t = t + 1u) {
        if (t == params.first_step || (t & 63u) == 0u) {
            bits = philox4x32_10(vec4<u32>(p, t >> 6u, replica, STREAM_WALK), key);
        }
        let word = bits[(t & 63u) >> 4u];
        cell = neighbour(params.n, params.boundary, cell, (word >> (2u * (t & 15u))) & 3u);
    }
    particles[i] = cell;
}
