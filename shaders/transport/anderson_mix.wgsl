// Anderson acceleration, step 3 of 3: g <- sum_k w_k G(g_k) for every potential of every
// problem, with the weights of transport/anderson_weights. Weights marked unusable leave
// g as it is;
// a non-finite combination (-inf images mixed with weights of both signs) becomes -inf.

override WG: u32 = 256u;
override MEMORY: u32 = 2u;

#import grid
#import lse
#import transport/anderson_params

@group(0) @binding(0) var<uniform> params: AndersonParams;
@group(0) @binding(1) var<storage, read> images: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> potential: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let slot_len = params.batch * params.len;
    let e = linear_workgroup(wid, nwg) * WG + lid;
    if (e >= slot_len) {
        return;
    }
    let b = e / params.len;
    if (weights[b * WEIGHT_STRIDE + MAX_MEMORY] == 0.0) {
        return;
    }
    var sum = 0.0;
    for (var k = 0u; k < MEMORY; k = k + 1u) {
        sum = fma(weights[b * WEIGHT_STRIDE + k], images[k * slot_len + e], sum);
    }
    potential[e] = select(f32_neg_inf(), sum, f32_is_finite(sum));
}
