// One half-iteration of log-domain Sinkhorn, for every row of every problem in a batch:
//
//   lse_i = LSE_j [ log b_j + (g_j - C_ij) / eps ]            (KL(P|a(x)b) convention)
//   lse_i = LSE_j [ (g_j - C_ij) / eps ]                      (entropy convention)
//   f_hat = -tau eps lse_i  (+ tau eps log a_i, entropy)      f_new = (1-w) f + w f_hat
//
// where rows are the side being updated (source for f, target for g) and columns the
// other side. Costs come from the points, tile by tile through workgroup memory; no
// n x m matrix exists (COST_DENSE reads a given matrix instead).
//
// One exp per entry: sums are shifted by the row's expected LSE, -f / (tau eps), known
// before the pass; the running max is tracked alongside, and a workgroup with a row whose
// shifted sum over- or underflowed repeats the pass shifted by that max. All arithmetic is
// in log2 units so the exp is a bare exp2.
//
// STATS: instead of updating, write per-row statistics of the current potentials:
// the marginal r_i = sum_j P_ij, the optimality gap |r_i - a_i exp(-f_i / rho)|, and
// sum_j C_ij P_ij, as four segments of `out` (stride params.stats_stride).
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC|COST_DENSE STATS| X_IN_MEMORY|

override WG: u32 = 64u;
// Rows per invocation (R * D <= XR_MAX unless X_IN_MEMORY).
override R: u32 = 4u;
// Columns per tile.
override TILE: u32 = 64u;
// Point dimension, and TILE * D.
override D: u32 = 2u;
override TILE_FLOATS: u32 = 128u;

const XR_MAX: u32 = 64u;
const R_MAX: u32 = 8u;
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
// Shifted sums inside [2^-64, f32 max] keep full precision; outside, redo the row.
const SUM_MIN: f32 = 5.421010862427522e-20;

#import grid
#import lse

struct Step {
    rows: u32,
    cols: u32,
    batch: u32,
    // 0: rows are the source (a, rho_a), 1: rows are the target (b, rho_b).
    side: u32,
    // Offsets of the row and column log-weights inside `log_w`.
    row_w_offset: u32,
    col_w_offset: u32,
    // 1: entropy convention, 0: KL(P | a x b).
    entropy: u32,
    // Stride between the segments of `out` in STATS mode.
    stats_stride: u32,
    // decay^t of epsilon-scaling (1 without): eps = eps_target * max(1, start_ratio * decay^t).
    eps_decay_pow: f32,
    omega: f32,
    gamma: f32,
    _pad: f32,
}

// Per problem: target eps, 1/rho of each side (0: hard), and the epsilon-scaling start
// as a multiple of the target eps.
struct ProblemScalars {
    eps: f32,
    inv_rho_a: f32,
    inv_rho_b: f32,
    start_ratio: f32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> problems: array<ProblemScalars>;
// Row points (batch x rows x D), or for COST_DENSE the cost matrix (batch x rows x cols).
@group(0) @binding(2) var<storage, read> row_pts: array<f32>;
@group(0) @binding(3) var<storage, read> col_pts: array<f32>;
// Natural log-weights of both sides: rows at row_w_offset, columns at col_w_offset.
@group(0) @binding(4) var<storage, read> log_w: array<f32>;
@group(0) @binding(5) var<storage, read> col_pot: array<f32>;
@group(0) @binding(6) var<storage, read> row_pot: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

var<workgroup> tile_y: array<f32, TILE_FLOATS>;
var<workgroup> tile_w: array<f32, TILE>;
var<workgroup> redo_any: atomic<u32>;
var<workgroup> redo_flag: u32;

var<private> xr: array<f32, XR_MAX>;
var<private> x_base: array<u32, R_MAX>;

fn x_coord(r: u32, k: u32) -> f32 {
#ifdef X_IN_MEMORY
    return row_pts[x_base[r] + k];
#else
    return xr[r * D + k];
#endif
}

fn y_coord(c: u32, k: u32) -> f32 {
    return tile_y[c * D + k];
}

#ifndef COST_DENSE
#import transport/cost
#endif

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let rows_per_group = WG * R;
    let groups_per_problem = (step.rows + rows_per_group - 1u) / rows_per_group;
    let linear = linear_workgroup(wid, nwg);
    if (linear >= groups_per_problem * step.batch) {
        return;
    }
    let b = linear / groups_per_problem;
    let first_row = (linear % groups_per_problem) * rows_per_group + lid;
    let eps = problems[b].eps * max(1.0, problems[b].start_ratio * step.eps_decay_pow);
    let inv_rho = select(problems[b].inv_rho_a, problems[b].inv_rho_b, step.side == 1u);
    let tau = 1.0 / (1.0 + eps * inv_rho);
    let scale = LOG2E / eps;
    let col_base = b * step.cols;

    // Rows of this invocation: first_row + r * WG.
    var shift: array<f32, R_MAX>;
    var sum: array<f32, R_MAX>;
    var peak: array<f32, R_MAX>;
    var cost_sum: array<f32, R_MAX>;
    for (var r = 0u; r < R; r = r + 1u) {
        let row = min(first_row + r * WG, step.rows - 1u);
        let idx = b * step.rows + row;
#ifndef COST_DENSE
        x_base[r] = idx * D;
#ifndef X_IN_MEMORY
        for (var k = 0u; k < D; k = k + 1u) {
            xr[r * D + k] = row_pts[idx * D + k];
        }
#endif
#endif
        // Expected LSE in log2 units: KL: -f/(tau eps); entropy: log a - f/(tau eps).
        var s = -(row_pot[idx] * scale) / tau;
        if (step.entropy == 1u) {
            s = s + log_w[step.row_w_offset + idx] * LOG2E;
        }
        shift[r] = select(0.0, s, f32_is_finite(s));
        sum[r] = 0.0;
        peak[r] = f32_neg_inf();
        cost_sum[r] = 0.0;
    }
    if (lid == 0u) {
        atomicStore(&redo_any, 0u);
    }

    // Pass 0 uses the expected shift; pass 1 (only if some row of the workgroup needs it)
    // uses the true max found in pass 0.
    for (var attempt = 0u; attempt < 2u; attempt = attempt + 1u) {
        for (var t0 = 0u; t0 < step.cols; t0 = t0 + TILE) {
            for (var c = lid; c < TILE; c = c + WG) {
                let j = t0 + c;
                var w = f32_neg_inf();
                if (j < step.cols) {
                    w = col_pot[col_base + j] * scale;
                    if (step.entropy == 0u) {
                        w = w + log_w[step.col_w_offset + col_base + j] * LOG2E;
                    }
                }
                tile_w[c] = w;
#ifndef COST_DENSE
                let jj = min(j, step.cols - 1u);
                for (var k = 0u; k < D; k = k + 1u) {
                    tile_y[c * D + k] = col_pts[(col_base + jj) * D + k];
                }
#endif
            }
            workgroupBarrier();
            let tile_len = min(TILE, step.cols - t0);
            for (var c = 0u; c < tile_len; c = c + 1u) {
                let w = tile_w[c];
                for (var r = 0u; r < R; r = r + 1u) {
#ifdef COST_DENSE
                    let row = min(first_row + r * WG, step.rows - 1u);
                    let cost = row_pts[(b * step.rows + row) * step.cols + t0 + c];
#else
                    let cost = pair_cost(r, c, step.gamma);
#endif
                    let arg = w - cost * scale;
                    let e = exp2(arg - shift[r]);
                    sum[r] = sum[r] + e;
                    peak[r] = max(peak[r], arg);
#ifdef STATS
                    cost_sum[r] = fma(cost, e, cost_sum[r]);
#endif
                }
            }
            workgroupBarrier();
        }
        if (attempt == 1u) {
            break;
        }
        var mine = 0u;
        for (var r = 0u; r < R; r = r + 1u) {
            if (!(sum[r] >= SUM_MIN && f32_is_finite(sum[r])) && f32_is_finite(peak[r])) {
                mine = 1u;
            }
        }
        if (mine == 1u) {
            atomicOr(&redo_any, 1u);
        }
        workgroupBarrier();
        if (lid == 0u) {
            redo_flag = atomicLoad(&redo_any);
        }
        if (workgroupUniformLoad(&redo_flag) == 0u) {
            break;
        }
        for (var r = 0u; r < R; r = r + 1u) {
            if (!(sum[r] >= SUM_MIN && f32_is_finite(sum[r])) && f32_is_finite(peak[r])) {
                shift[r] = peak[r];
            }
            sum[r] = 0.0;
            cost_sum[r] = 0.0;
        }
    }

    for (var r = 0u; r < R; r = r + 1u) {
        let row = first_row + r * WG;
        if (row >= step.rows) {
            continue;
        }
        let idx = b * step.rows + row;
        let f = row_pot[idx];
        let log_a = log_w[step.row_w_offset + idx];
        // log2 of sum_j exp(...) for this row.
        let lse2 = shift[r] + log2(sum[r]);
#ifdef STATS
        // log r_i = log a_i [KL] + f/eps + lse. Written so that f*scale cancels the shift
        // exactly when the shift was -f*scale (balanced, KL).
        var log2_r = (f * scale + shift[r]) + log2(sum[r]);
        if (step.entropy == 0u) {
            log2_r = log2_r + log_a * LOG2E;
        }
        let marginal = exp2(log2_r);
        // a_i exp(-f_i / rho); a zero weight wants nothing (its entropy-convention
        // potential is -inf, which must not turn this into 0 * inf).
        var wanted = exp(log_a);
        if (inv_rho > 0.0 && f32_is_finite(log_a)) {
            wanted = exp(log_a - f * inv_rho);
        }
        let primal = exp2(log2_r - log2(sum[r])) * cost_sum[r];
        out[idx] = marginal;
        out[step.stats_stride + idx] = abs(marginal - wanted);
        out[2u * step.stats_stride + idx] = primal;
        out[3u * step.stats_stride + idx] = lse2 * LN2;
#else
        var f_hat = -tau * eps * (lse2 * LN2);
        if (step.entropy == 1u) {
            f_hat = f_hat + tau * eps * log_a;
        }
        var f_new = f_hat;
        if (step.omega != 1.0 && f32_is_finite(f_hat)) {
            f_new = (1.0 - step.omega) * f + step.omega * f_hat;
        }
        out[idx] = f_new;
#endif
    }
}
