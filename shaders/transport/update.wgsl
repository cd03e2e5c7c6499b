// One half-iteration of log-domain Sinkhorn, for every row of every problem in a batch:
//
//   lse_i = LSE_j [ log b_j + (g_j - C_ij) / eps ]            (KL(P|a(x)b) convention)
//   lse_i = LSE_j [ (g_j - C_ij) / eps ]                      (entropy convention)
//   f_hat = -tau eps lse_i  (+ tau eps log a_i, entropy)      f_new = (1-w) f + w f_hat
//
// where rows are the side being updated (source for f, target for g) and columns the
// other side. Costs come from the points; no n x m matrix exists (COST_DENSE reads a
// given matrix instead).
//
// Each invocation keeps four rows in the lanes of vec4s, so every column it reads
// serves four rows. Columns reach the invocations either through subgroup shuffles (SUBGROUPS: each
// lane loads one column, the subgroup passes them around; no shared memory, no barriers)
// or through a workgroup tile.
//
// One exp per entry: sums are shifted by the row's expected LSE, -f / (tau eps), known
// before the pass. Only if some row's shifted sum over- or underflowed does the group
// find the rows' largest exponents (no exp) and sum again shifted by them. Arithmetic is
// in log2 units so the exp is a bare exp2.
//
// STATS: instead of updating, write per-row statistics of the current potentials:
// the marginal r_i = sum_j P_ij, the optimality gap |r_i - a_i exp(-f_i / rho)|,
// sum_j C_ij P_ij and lse_i, as four segments of `out` (stride step.stats_stride).
// MOMENTS: write sum_j C_ij, sum_j C_ij^2 and max_j C_ij per row instead (one pass, no
// exp), for a relative epsilon and the start of epsilon-scaling.
// UPDATE: the potential update itself. Exactly one of UPDATE, STATS, MOMENTS is set.
//
// CHUNKED: the points of one side exceed a single binding. A dispatch then covers a
// window of rows and a window of columns (row_pts and col_pts are bound to those
// windows) and merges its partial sums with the row's carry from earlier column windows;
// the last window writes the result.
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC|COST_DENSE UPDATE|STATS|MOMENTS SUBGROUPS| X_IN_MEMORY| CHUNKED|

override WG: u32 = 64u;
// Columns per workgroup tile (without SUBGROUPS).
override TILE: u32 = 64u;
// Point dimension, and TILE * D.
override D: u32 = 2u;
override TILE_FLOATS: u32 = 128u;

// vec4 registers for source coordinates: D <= XV_MAX unless X_IN_MEMORY.
const XV_MAX: u32 = 64u;
// Coordinates a lane holds for its column with SUBGROUPS (D <= D_MAX).
const D_MAX: u32 = 64u;
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
// Shifted sums inside [2^-64, f32 max] keep full precision; outside, redo the row.
const SUM_MIN: f32 = 5.421010862427522e-20;

#import grid
#import lse
#ifndef COST_DENSE
#import transport/cost
#endif

struct Step {
    // Rows and columns of this dispatch (a window of the problem when CHUNKED).
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
    // COST_DENSE: 1 when row_pts is the other side's matrix, read down its columns (the
    // target pass over a stored matrix, whose transpose is never written).
    transposed: u32,
    // Where the windows start, and the problem's full sizes. Points are indexed inside
    // their window; potentials, weights and outputs by the full index.
    row_start: u32,
    col_start: u32,
    total_rows: u32,
    total_cols: u32,
    // CHUNKED: bit 0 set on the first column window, bit 1 on the last.
    chunk_flags: u32,
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
#ifdef CHUNKED
// Per row, across column windows: (shift, shifted sum, shifted cost sum, peak), or for
// MOMENTS (sum, sum of squares, max, -).
@group(0) @binding(8) var<storage, read_write> carry: array<vec4<f32>>;
#endif

#ifdef SUBGROUPS
// The column this lane loaded for the current chunk.
var<private> lane_w: f32;
var<private> lane_y: array<f32, D_MAX>;
#else
var<workgroup> tile_y: array<f32, TILE_FLOATS>;
var<workgroup> tile_w: array<f32, TILE>;
var<workgroup> redo_any: atomic<u32>;
var<workgroup> redo_flag: u32;
#endif

// Coordinate k of the invocation's four rows.
var<private> xr: array<vec4<f32>, XV_MAX>;
// First element of each row's point (X_IN_MEMORY) or of its cost row (COST_DENSE); when
// transposed, each row's index within its problem.
var<private> row_base: vec4<u32>;
// Transposed COST_DENSE: the first matrix row (a column of this pass) of the problem.
var<private> transposed_base: u32;

fn x4(k: u32) -> vec4<f32> {
#ifdef X_IN_MEMORY
    let base = row_base + vec4<u32>(k);
    return vec4<f32>(row_pts[base.x], row_pts[base.y], row_pts[base.z], row_pts[base.w]);
#else
    return xr[k];
#endif
}

// Log2-unit offset w_j = [log b_j] + g_j / eps of window column j (-inf past the end);
// col_global is the full index of the window's first column.
fn column_offset(j: u32, col_global: u32, scale: f32) -> f32 {
    if (j >= step.cols) {
        return f32_neg_inf();
    }
    var w = col_pot[col_global + j] * scale;
    if (step.entropy == 0u) {
        w = w + log_w[step.col_w_offset + col_global + j] * LOG2E;
    }
    return w;
}

// Makes the columns t0 .. t0 + chunk_width() available to column_w / column_y.
fn stage_columns(t0: u32, lid: u32, lane: u32, col_global: u32, col_base: u32, scale: f32) {
#ifdef SUBGROUPS
    let j = t0 + lane;
    lane_w = column_offset(j, col_global, scale);
#ifndef COST_DENSE
    let jj = min(j, step.cols - 1u);
    for (var k = 0u; k < D; k = k + 1u) {
        lane_y[k] = col_pts[(col_base + jj) * D + k];
    }
#endif
#else
    for (var c = lid; c < TILE; c = c + WG) {
        let j = t0 + c;
        tile_w[c] = column_offset(j, col_global, scale);
#ifndef COST_DENSE
        let jj = min(j, step.cols - 1u);
        for (var k = 0u; k < D; k = k + 1u) {
            tile_y[c * D + k] = col_pts[(col_base + jj) * D + k];
        }
#endif
    }
    workgroupBarrier();
#endif
}

fn release_columns() {
#ifndef SUBGROUPS
    workgroupBarrier();
#endif
}

fn column_w(c: u32) -> f32 {
#ifdef SUBGROUPS
    return subgroupShuffle(lane_w, c);
#else
    return tile_w[c];
#endif
}

fn column_y(c: u32, k: u32) -> f32 {
#ifdef SUBGROUPS
    return subgroupShuffle(lane_y[k], c);
#else
    return tile_y[c * D + k];
#endif
}

// Costs between the four rows and column c of the chunk at t0.
fn row_costs(c: u32, t0: u32) -> vec4<f32> {
#ifdef COST_DENSE
    let along = row_base + vec4<u32>(step.col_start + t0 + c);
    let down = row_base + vec4<u32>((transposed_base + t0 + c) * step.total_rows);
    let base = select(along, down, step.transposed == 1u);
    return vec4<f32>(row_pts[base.x], row_pts[base.y], row_pts[base.z], row_pts[base.w]);
#else
    var parts = cost_parts_zero();
    for (var k = 0u; k < D; k = k + 1u) {
        parts = cost_add(parts, x4(k) - vec4<f32>(column_y(c, k)));
    }
    return cost_finish(parts, step.gamma);
#endif
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
#endif
) {
#ifdef SUBGROUPS
    let chunk = sg_size;
    let lane = sg_lane;
#else
    let chunk = TILE;
    let lane = 0u;
#endif
    let rows_per_group = WG * 4u;
    let groups_per_problem = (step.rows + rows_per_group - 1u) / rows_per_group;
    let linear = linear_workgroup(wid, nwg);
    if (linear >= groups_per_problem * step.batch) {
        return;
    }
    let b = linear / groups_per_problem;
    // Row of lane q: first_row + q * WG.
    let first_row = (linear % groups_per_problem) * rows_per_group + lid;
    let eps = problems[b].eps * max(1.0, problems[b].start_ratio * step.eps_decay_pow);
    let inv_rho = select(problems[b].inv_rho_a, problems[b].inv_rho_b, step.side == 1u);
    let tau = 1.0 / (1.0 + eps * inv_rho);
    let scale = LOG2E / eps;
    // Column windows: points by window index, potentials and weights by full index.
    let col_base = b * step.cols;
    let col_global = b * step.total_cols + step.col_start;
    let row_global = b * step.total_rows + step.row_start;

    var rows = vec4<u32>(0u);
    var shift = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q = q + 1u) {
        let row = min(first_row + q * WG, step.rows - 1u);
        rows[q] = b * step.rows + row;
        let idx = row_global + row;
        // Expected LSE in log2 units: KL: -f/(tau eps); entropy: log a - f/(tau eps).
        var s = -(row_pot[idx] * scale) / tau;
        if (step.entropy == 1u) {
            s = s + log_w[step.row_w_offset + idx] * LOG2E;
        }
        shift[q] = select(0.0, s, f32_is_finite(s));
    }
#ifdef COST_DENSE
    if (step.transposed == 1u) {
        row_base = rows - vec4<u32>(b * step.rows) + vec4<u32>(step.row_start);
        transposed_base = b * step.cols;
    } else {
        row_base = rows * step.total_cols;
    }
#else
    row_base = rows * D;
#ifndef X_IN_MEMORY
    for (var k = 0u; k < D; k = k + 1u) {
        let base = rows * D + vec4<u32>(k);
        xr[k] = vec4<f32>(row_pts[base.x], row_pts[base.y], row_pts[base.z], row_pts[base.w]);
    }
#endif
#endif
    var sum = vec4<f32>(0.0);
    var compensation = vec4<f32>(0.0);
    var peak = vec4<f32>(f32_neg_inf());
    var cost_sum = vec4<f32>(0.0);
#ifndef SUBGROUPS
    if (lid == 0u) {
        atomicStore(&redo_any, 0u);
    }
#endif

    // Attempt 0 sums with the expected shift. Only if a row over- or underflowed:
    // attempt 1 finds each row's largest exponent (no exp), attempt 2 sums shifted by it.
    for (var attempt = 0u; attempt < 3u; attempt = attempt + 1u) {
        for (var t0 = 0u; t0 < step.cols; t0 = t0 + chunk) {
            stage_columns(t0, lid, lane, col_global, col_base, scale);
            let width = min(chunk, step.cols - t0);
#ifdef MOMENTS
            for (var c = 0u; c < width; c = c + 1u) {
                let cost = row_costs(c, t0);
                sum = sum + cost;
                cost_sum = fma(cost, cost, cost_sum);
                peak = max(peak, cost);
            }
#else
            // Two loops rather than a branch inside one: the hot loop stays branch-free.
            if (attempt == 1u) {
                for (var c = 0u; c < width; c = c + 1u) {
                    let w = vec4<f32>(column_w(c));
                    peak = max(peak, fma(-row_costs(c, t0), vec4<f32>(scale), w));
                }
            } else {
                // Sum the chunk, then add it to the row's total with compensation: over
                // 10^5 or more columns a plain running f32 sum loses digits.
                var part = vec4<f32>(0.0);
                var part_cost = vec4<f32>(0.0);
                for (var c = 0u; c < width; c = c + 1u) {
                    let w = vec4<f32>(column_w(c));
                    let cost = row_costs(c, t0);
                    let e = exp2(fma(-cost, vec4<f32>(scale), w - shift));
                    part = part + e;
#ifdef STATS
                    part_cost = fma(cost, e, part_cost);
#endif
                }
                let y = part - compensation;
                let total = sum + y;
                compensation = (total - sum) - y;
                sum = total;
                cost_sum = cost_sum + part_cost;
            }
#endif
            release_columns();
        }
#ifdef MOMENTS
        break;
#endif
        if (attempt == 2u) {
            break;
        }
        let bad = !(sum >= vec4<f32>(SUM_MIN)) | !(abs(sum) <= vec4<f32>(3.40282347e38));
        if (attempt == 1u) {
            let usable = abs(peak) <= vec4<f32>(3.40282347e38);
            shift = select(shift, peak, bad & usable);
            sum = vec4<f32>(0.0);
            compensation = vec4<f32>(0.0);
            cost_sum = vec4<f32>(0.0);
            continue;
        }
        let mine = any(bad);
#ifdef SUBGROUPS
        if (!subgroupAny(mine)) {
            break;
        }
#else
        if (mine) {
            atomicOr(&redo_any, 1u);
        }
        workgroupBarrier();
        if (lid == 0u) {
            redo_flag = atomicLoad(&redo_any);
        }
        if (workgroupUniformLoad(&redo_flag) == 0u) {
            break;
        }
#endif
    }

    for (var q = 0u; q < 4u; q = q + 1u) {
        let row = first_row + q * WG;
        if (row >= step.rows) {
            continue;
        }
        let idx = row_global + row;
        let f = row_pot[idx];
        let log_a = log_w[step.row_w_offset + idx];
        var sh = shift[q];
        var s = sum[q];
        var cs = cost_sum[q];
        var pk = peak[q];
#ifdef CHUNKED
        if ((step.chunk_flags & 1u) == 0u) {
            let c = carry[idx];
#ifdef MOMENTS
            s = s + c.x;
            cs = cs + c.y;
            pk = max(pk, c.z);
#else
            // Merge (sh, s, cs) with the carry's at the larger shift.
            let m = max(sh, c.x);
            if (f32_is_finite(m)) {
                let wa = select(0.0, exp2(sh - m), f32_is_finite(sh));
                let wb = select(0.0, exp2(c.x - m), f32_is_finite(c.x));
                s = s * wa + c.y * wb;
                cs = cs * wa + c.z * wb;
                sh = m;
            }
#endif
        }
        if ((step.chunk_flags & 2u) == 0u) {
#ifdef MOMENTS
            carry[idx] = vec4<f32>(s, cs, pk, 0.0);
#else
            // A window without a finite term keeps the carry it merged (or an empty one).
            carry[idx] = vec4<f32>(select(f32_neg_inf(), sh, s > 0.0), s, cs, pk);
#endif
            continue;
        }
#endif
        // log2 of sum_j exp(...) for this row.
        let lse2 = sh + log2(s);
#ifdef MOMENTS
        out[idx] = s;
        out[step.stats_stride + idx] = cs;
        out[2u * step.stats_stride + idx] = pk;
#endif
#ifdef STATS
        // log r_i = log a_i [KL] + f/eps + lse, written so that f*scale cancels the
        // shift exactly when the shift was -f*scale (balanced, KL).
        var log2_r = (f * scale + sh) + log2(s);
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
        let primal = exp2(log2_r - log2(s)) * cs;
        out[idx] = marginal;
        out[step.stats_stride + idx] = abs(marginal - wanted);
        out[2u * step.stats_stride + idx] = primal;
        out[3u * step.stats_stride + idx] = lse2 * LN2;
#endif
#ifdef UPDATE
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
