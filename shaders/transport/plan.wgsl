// The dense plan, one entry per invocation (small problems only):
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)   (KL convention)
//   P_ij = exp((f_i + g_j - C_ij) / eps)           (entropy convention)
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC|COST_DENSE

override WG: u32 = 64u;
override D: u32 = 2u;

#import grid

struct Params {
    rows: u32,
    cols: u32,
    col_w_offset: u32,
    entropy: u32,
    eps: f32,
    gamma: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
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
    let i = k / params.cols;
    let j = k % params.cols;
#ifdef COST_DENSE
    let cost = row_pts[k];
#else
    x_base = i * D;
    y_base = j * D;
    let cost = pair_cost(0u, 0u, params.gamma);
#endif
    var log_p = (row_pot[i] + col_pot[j] - cost) / params.eps;
    if (params.entropy == 0u) {
        log_p = log_p + log_w[i] + log_w[params.col_w_offset + j];
    }
    out[k] = exp(log_p);
}
