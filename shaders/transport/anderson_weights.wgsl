// Anderson acceleration, step 2 of 3: one workgroup per problem adds the Gram partials of
// transport/anderson_gram chunk by chunk (a fixed order), scales the matrix to unit
// Frobenius norm, adds the ridge, solves (G + ridge I) w = 1 by Cholesky and writes
// w / sum(w). Vanishing residuals or a singular system mark the weights unusable:
// transport/anderson_mix then leaves the potential as it is.

override WG: u32 = 64u;
override MEMORY: u32 = 2u;

#import lse
#import transport/anderson_params

@group(0) @binding(0) var<uniform> params: AndersonParams;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
// batch x WEIGHT_STRIDE: the weights and whether to apply them.
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;

var<workgroup> gram: array<f32, PAIRS>;

fn write_weights(b: u32, w: array<f32, MAX_MEMORY>, usable: bool) {
    for (var k = 0u; k < MAX_MEMORY; k = k + 1u) {
        weights[b * WEIGHT_STRIDE + k] = w[k];
    }
    weights[b * WEIGHT_STRIDE + MAX_MEMORY] = select(0.0, 1.0, usable);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let b = wid.x;
    let pairs = MEMORY * (MEMORY + 1u) / 2u;
    for (var p = lid; p < pairs; p = p + WG) {
        var sum = 0.0;
        for (var c = 0u; c < params.chunks; c = c + 1u) {
            sum = sum + partials[(b * params.chunks + c) * PAIRS + p];
        }
        gram[p] = sum;
    }
    workgroupBarrier();
    if (lid != 0u) {
        return;
    }
    var w: array<f32, MAX_MEMORY>;
    for (var k = 0u; k < MAX_MEMORY; k = k + 1u) {
        w[k] = 0.0;
    }
    // Off-diagonal entries appear twice in the Frobenius norm.
    var norm_sq = 0.0;
    for (var k = 0u; k < MEMORY; k = k + 1u) {
        for (var l = 0u; l <= k; l = l + 1u) {
            let v = gram[pair_index(k, l)];
            norm_sq = norm_sq + select(2.0, 1.0, k == l) * v * v;
        }
    }
    let norm = sqrt(norm_sq);
    if (norm_sq == 0.0 || !f32_is_finite(norm_sq)) {
        write_weights(b, w, false);
        return;
    }
    // Cholesky factor L (lower triangle, packed like the Gram matrix).
    var l_fac: array<f32, PAIRS>;
    for (var i = 0u; i < MEMORY; i = i + 1u) {
        for (var j = 0u; j <= i; j = j + 1u) {
            var s = gram[pair_index(i, j)] / norm + select(0.0, params.ridge, i == j);
            for (var p = 0u; p < j; p = p + 1u) {
                s = s - l_fac[pair_index(i, p)] * l_fac[pair_index(j, p)];
            }
            if (i == j) {
                if (!(s > 0.0)) {
                    write_weights(b, w, false);
                    return;
                }
                l_fac[pair_index(i, i)] = sqrt(s);
            } else {
                l_fac[pair_index(i, j)] = s / l_fac[pair_index(j, j)];
            }
        }
    }
    // L y = 1, then L^T w = y.
    var y: array<f32, MAX_MEMORY>;
    for (var i = 0u; i < MEMORY; i = i + 1u) {
        var s = 1.0;
        for (var p = 0u; p < i; p = p + 1u) {
            s = s - l_fac[pair_index(i, p)] * y[p];
        }
        y[i] = s / l_fac[pair_index(i, i)];
    }
    var total = 0.0;
    for (var ii = 0u; ii < MEMORY; ii = ii + 1u) {
        let i = MEMORY - 1u - ii;
        var s = y[i];
        for (var p = i + 1u; p < MEMORY; p = p + 1u) {
            s = s - l_fac[pair_index(p, i)] * w[p];
        }
        w[i] = s / l_fac[pair_index(i, i)];
        total = total + w[i];
    }
    var usable = f32_is_finite(total) && total != 0.0;
    for (var k = 0u; k < MEMORY; k = k + 1u) {
        w[k] = w[k] / total;
        usable = usable && f32_is_finite(w[k]);
    }
    write_weights(b, w, usable);
}
