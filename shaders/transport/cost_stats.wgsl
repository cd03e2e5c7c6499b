// Statistics of the cost over all pairs, one row per invocation: sum_j C_ij,
// sum_j C_ij^2 and max_j C_ij, as three segments of `out` (stride params.stride). They
// give the mean and standard deviation for a relative epsilon, and the largest cost where
// epsilon-scaling starts.
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC

override WG: u32 = 64u;
override TILE: u32 = 64u;
override D: u32 = 2u;
override TILE_FLOATS: u32 = 128u;

const XR_MAX: u32 = 64u;

#import grid

struct Params {
    rows: u32,
    cols: u32,
    batch: u32,
    stride: u32,
    gamma: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> row_pts: array<f32>;
@group(0) @binding(2) var<storage, read> col_pts: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> tile_y: array<f32, TILE_FLOATS>;
var<private> x_base: u32;

fn x_coord(r: u32, k: u32) -> f32 {
    return row_pts[x_base + k];
}

fn y_coord(c: u32, k: u32) -> f32 {
    return tile_y[c * D + k];
}

#import transport/pair_cost

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let groups_per_problem = (params.rows + WG - 1u) / WG;
    let linear = linear_workgroup(wid, nwg);
    if (linear >= groups_per_problem * params.batch) {
        return;
    }
    let b = linear / groups_per_problem;
    let row = (linear % groups_per_problem) * WG + lid;
    x_base = (b * params.rows + min(row, params.rows - 1u)) * D;
    var total = 0.0;
    var total_sq = 0.0;
    var largest = 0.0;
    for (var t0 = 0u; t0 < params.cols; t0 = t0 + TILE) {
        for (var c = lid; c < TILE; c = c + WG) {
            let j = min(t0 + c, params.cols - 1u);
            for (var k = 0u; k < D; k = k + 1u) {
                tile_y[c * D + k] = col_pts[(b * params.cols + j) * D + k];
            }
        }
        workgroupBarrier();
        let tile_len = min(TILE, params.cols - t0);
        for (var c = 0u; c < tile_len; c = c + 1u) {
            let cost = pair_cost(0u, c, params.gamma);
            total = total + cost;
            total_sq = fma(cost, cost, total_sq);
            largest = max(largest, cost);
        }
        workgroupBarrier();
    }
    if (row < params.rows) {
        let idx = b * params.rows + row;
        out[idx] = total;
        out[params.stride + idx] = total_sq;
        out[2u * params.stride + idx] = largest;
    }
}
