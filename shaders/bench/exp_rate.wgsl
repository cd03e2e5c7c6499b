// Peak exp throughput: eight independent chains x <- exp2(-x) per invocation, so the
// adapter's exp unit, not latency, bounds the rate. Counted: CHAINS * STEPS exp2 per
// invocation. The sum is written so nothing is optimised away.

override WG: u32 = 256u;
override STEPS: u32 = 64u;

#import grid

struct Params {
    invocations: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> sink: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    if (i >= params.invocations) {
        return;
    }
    let seed = f32(i & 1023u) * 1e-4;
    var a = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
    var b = vec4<f32>(seed + 0.4, seed + 0.5, seed + 0.6, seed + 0.7);
    for (var s = 0u; s < STEPS; s = s + 1u) {
        a = exp2(-a);
        b = exp2(-b);
    }
    sink[i] = dot(a, b);
}
