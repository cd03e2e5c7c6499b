// Entropic map of query points x through a solved problem's target potential g:
//   w_j(x) ∝ b_j exp((g_j - c(x, y_j)) / eps)     (KL convention; entropy: without b_j)
//   T(x) = sum_j w_j(x) y_j                                   (COST_SQEUCLID)
//   T(x) = x - prox(x - sum_j w_j (y_j - gamma sign(x - y_j)))  (COST_ELASTIC)
// where prox is the soft threshold at gamma: for c = h(x - y) with h = 1/2|.|^2 +
// gamma |.|_1, T(x) = x - (grad h)^-1(grad f(x)) and grad f(x) = sum_j w_j grad h(x - y_j).
// One invocation per query: a first pass finds the largest exponent, a second sums the
// shifted weights, ACC coordinates at a time. A target beyond one binding is walked a
// window per dispatch: each query carries (peak, total, sums) to the next window, rescaled
// when the peak rises, and the last window writes T(x).
//! variants: COST_SQEUCLID|COST_ELASTIC

override WG: u32 = 64u;
override TILE: u32 = 64u;
override D: u32 = 2u;
override TILE_FLOATS: u32 = 128u;

const ACC: u32 = 32u;
const LOG2E: f32 = 1.4426950408889634;

#import grid
#import lse
#import transport/column_tile


@group(0) @binding(0) var<uniform> params: ColumnParams;
@group(0) @binding(1) var<storage, read> query_pts: array<f32>;
@group(0) @binding(2) var<storage, read> col_pts: array<f32>;
@group(0) @binding(3) var<storage, read> log_w: array<f32>;
@group(0) @binding(4) var<storage, read> col_pot: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// Per query between windows: peak, total, D sums of y, D sums of signs.
@group(0) @binding(6) var<storage, read_write> carry: array<f32>;

var<private> x_base: u32;

fn x_coord(r: u32, k: u32) -> f32 {
    return query_pts[x_base + k];
}

#import transport/pair_cost

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let linear = linear_workgroup(wid, nwg);
    if (linear * WG >= params.count) {
        return;
    }
    let q = linear * WG + lid;
    let qq = min(q, params.count - 1u);
    x_base = qq * D;
    let scale = LOG2E / params.eps;
    let cb = qq * (2u + 2u * D);

    var peak = f32_neg_inf();
    for (var t0 = 0u; t0 < params.cols; t0 = t0 + TILE) {
        load_column_tile(t0, lid, scale);
        workgroupBarrier();
        for (var c = 0u; c < min(TILE, params.cols - t0); c = c + 1u) {
            peak = max(peak, tile_w[c] - pair_cost(0u, c, params.gamma) * scale);
        }
        workgroupBarrier();
    }
    // What earlier windows summed, rescaled to the new peak.
    var carried_total = 0.0;
    var rescale = 0.0;
    if (!first_window()) {
        let carried_peak = carry[cb];
        peak = max(peak, carried_peak);
        if (carried_peak > f32_neg_inf()) {
            rescale = exp2(carried_peak - peak);
        }
        carried_total = carry[cb + 1u] * rescale;
    }
    // A window without mass keeps every weight at zero rather than NaN.
    let shift = select(peak, 0.0, peak == f32_neg_inf());

    for (var d0 = 0u; d0 < D; d0 = d0 + ACC) {
        var total = carried_total;
        var mean_y: array<f32, ACC>;
        var mean_sign: array<f32, ACC>;
        let dims = min(ACC, D - d0);
        for (var k = 0u; k < ACC; k = k + 1u) {
            mean_y[k] = 0.0;
            mean_sign[k] = 0.0;
            if (!first_window() && k < dims) {
                mean_y[k] = carry[cb + 2u + d0 + k] * rescale;
                mean_sign[k] = carry[cb + 2u + D + d0 + k] * rescale;
            }
        }
        for (var t0 = 0u; t0 < params.cols; t0 = t0 + TILE) {
            load_column_tile(t0, lid, scale);
            workgroupBarrier();
            for (var c = 0u; c < min(TILE, params.cols - t0); c = c + 1u) {
                let e = exp2(tile_w[c] - pair_cost(0u, c, params.gamma) * scale - shift);
                total = total + e;
                for (var k = 0u; k < dims; k = k + 1u) {
                    let y = tile_y[c * D + d0 + k];
                    mean_y[k] = fma(e, y, mean_y[k]);
#ifdef COST_ELASTIC
                    mean_sign[k] = fma(e, sign(x_coord(0u, d0 + k) - y), mean_sign[k]);
#endif
                }
            }
            workgroupBarrier();
        }
        if (q < params.count && !last_window()) {
            for (var k = 0u; k < dims; k = k + 1u) {
                carry[cb + 2u + d0 + k] = mean_y[k];
                carry[cb + 2u + D + d0 + k] = mean_sign[k];
            }
            carry[cb + 1u] = total;
        }
        if (q < params.count && last_window()) {
            for (var k = 0u; k < dims; k = k + 1u) {
                let y_bar = mean_y[k] / total;
#ifdef COST_ELASTIC
                let x = x_coord(0u, d0 + k);
                // grad f = x - y_bar + gamma * mean sign; T = x - soft_threshold(grad f).
                let grad = x - y_bar + params.gamma * mean_sign[k] / total;
                let shrunk = sign(grad) * max(abs(grad) - params.gamma, 0.0);
                out[q * D + d0 + k] = x - shrunk;
#else
                out[q * D + d0 + k] = y_bar;
#endif
            }
        }
    }
    if (q < params.count && !last_window()) {
        carry[cb] = peak;
    }
}
