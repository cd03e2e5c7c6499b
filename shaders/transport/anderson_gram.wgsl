// Anderson acceleration, step 1 of 3: partial Gram matrices of the residuals
// r_k = G(g_k) - g_k of the MEMORY stored iterates of each problem's target potential.
// Workgroup (chunk c, problem b) sums r_k[j] r_l[j] (k <= l) over its chunk of j and
// writes one partial per pair; transport/anderson_weights adds the chunks in order.
// A -inf potential (a zero weight's, in the entropy convention) counts as 0.

override WG: u32 = 256u;
override MEMORY: u32 = 2u;

#import lse
#import transport/anderson_params

@group(0) @binding(0) var<uniform> params: AndersonParams;
// MEMORY slots of batch x len floats: the iterates g_k and their images G(g_k).
@group(0) @binding(1) var<storage, read> iterates: array<f32>;
@group(0) @binding(2) var<storage, read> images: array<f32>;
// batch x chunks x PAIRS partial sums.
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> shared_sums: array<f32, WG>;

fn clean(v: f32) -> f32 {
    return select(v, 0.0, v == f32_neg_inf());
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let chunk = wid.x;
    let b = wid.y;
    let slot_len = params.batch * params.len;
    let begin = chunk * params.chunk_len;
    let end = min(begin + params.chunk_len, params.len);
    var acc: array<f32, PAIRS>;
    for (var p = 0u; p < PAIRS; p = p + 1u) {
        acc[p] = 0.0;
    }
    for (var j = begin + lid; j < end; j = j + WG) {
        let e = b * params.len + j;
        var r: array<f32, MAX_MEMORY>;
        for (var k = 0u; k < MEMORY; k = k + 1u) {
            r[k] = clean(images[k * slot_len + e]) - clean(iterates[k * slot_len + e]);
        }
        for (var k = 0u; k < MEMORY; k = k + 1u) {
            for (var l = 0u; l <= k; l = l + 1u) {
                let p = pair_index(k, l);
                acc[p] = fma(r[k], r[l], acc[p]);
            }
        }
    }
    for (var p = 0u; p < MEMORY * (MEMORY + 1u) / 2u; p = p + 1u) {
        shared_sums[lid] = acc[p];
        workgroupBarrier();
        for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
            if (lid < stride) {
                shared_sums[lid] = shared_sums[lid] + shared_sums[lid + stride];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            partials[(b * params.chunks + chunk) * PAIRS + p] = shared_sums[0];
        }
        workgroupBarrier();
    }
}
