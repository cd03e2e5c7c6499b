// Peak fused multiply-add throughput: sixteen independent chains x <- fma(x, m, c) per
// invocation. Counted: 16 * STEPS FMAs (2 flops each) per invocation.

override WG: u32 = 256u;
override STEPS: u32 = 256u;

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
    let x = f32(i & 1023u) * 1e-3;
    let m = vec4<f32>(0.9999, 0.9998, 0.9997, 0.9996) + x * 1e-7;
    let c = vec4<f32>(1e-4, 2e-4, 3e-4, 4e-4);
    var a = vec4<f32>(x, x + 1.0, x + 2.0, x + 3.0);
    var b = a + 4.0;
    var d = a + 8.0;
    var e = a + 12.0;
    for (var s = 0u; s < STEPS; s = s + 1u) {
        a = fma(a, m, c);
        b = fma(b, m, c);
        d = fma(d, m, c);
        e = fma(e, m, c);
    }
    sink[i] = dot(a + b, d + e);
}
