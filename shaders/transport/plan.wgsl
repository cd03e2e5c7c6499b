// The dense plan, one entry per invocation, a (row window, column window) block per
// dispatch (small problems only):
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)   (KL convention)
//   P_ij = exp((f_i + g_j - C_ij) / eps)           (entropy convention)
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC|COST_DENSE

override WG: u32 = 64u;
override D: u32 = 2u;

#import grid

// The layout of `ColumnParams` (transport/column_tile), read as a block of the plan.
struct Params {
    // Rows and columns of this block.
    rows: u32,
    cols: u32,
    col_w_offset: u32,
    entropy: u32,
    eps: f32,
    gamma: f32,
    col_start: u32,
    _flags: u32,
    row_start: u32,
    // Floats per row of `row_pts` (D for points, all columns for a cost matrix).
    row_stride: u32,
    _first_query: u32,
    total_cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The block's windows of source and target points (or of cost-matrix rows).
@group(0) @binding(1) var<storage, read> row_pts: array<f32>;
@group(0) @binding(2) var<storage, read> col_pts: array<f32>;
@group(0) @binding(3) var<storage, read> log_w: array<f32>;
@group(0) @binding(4) var<storage, read> row_pot: array<f32>;
@group(0) @binding(5) var<storage, read> col_pot: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

var<private> x_base: u32;
var<private> y_base: u32;

fn x_coord(r: u32, k: u32) -> f32 {
    return row_pts[x_base + k];
}

fn y_coord(c: u32, k: u32) -> f32 {
    return col_pts[y_base + k];
}

#ifndef COST_DENSE
#import transport/pair_cost
#endif

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let k = linear_workgroup(wid, nwg) * WG + lid;
    if (k >= params.rows * params.cols) {
        return;
    }
    let i_local = k / params.cols;
    let j_local = k % params.cols;
    let i = params.row_start + i_local;
    let j = params.col_start + j_local;
#ifdef COST_DENSE
    let cost = row_pts[i_local * params.row_stride + j];
#else
    x_base = i_local * D;
    y_base = j_local * D;
    let cost = pair_cost(0u, 0u, params.gamma);
#endif
    var log_p = (row_pot[i] + col_pot[j] - cost) / params.eps;
    if (params.entropy == 0u) {
        log_p = log_p + log_w[i] + log_w[params.col_w_offset + j];
    }
    out[i * params.total_cols + j] = exp(log_p);
}
