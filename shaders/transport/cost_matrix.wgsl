// The cost matrix of a batch of point-cloud problems, computed once for solves that then
// stream it instead of recomputing every cost in every half-iteration:
//
//   c[b, i - row0, j] = cost(x_i, y_j)   for rows row0 <= i < row0 + rows of each problem
//
// A dispatch writes one window of rows (a matrix larger than a binding is written in
// windows). No transpose is written: the solve's target pass reads the matrix down its
// columns.
//
// A workgroup covers 4 WG rows and CB columns. The block's column coordinates are staged
// once in workgroup memory; each invocation keeps its four rows' coordinates in the lanes
// of vec4 registers and walks the columns COLS at a time. The columns are the same for
// every invocation, so their coordinates are uniform loads, and each row coordinate serves
// 4 x COLS pairs. Costs are summed from coordinate differences (transport/cost), exactly
// as the on-the-fly kernels sum them, so a solve gives the same potentials either way.
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC

const WG: u32 = 64u;
// Columns per workgroup, and per pass of an invocation's accumulators.
const CB: u32 = 32u;
const COLS: u32 = 8u;
// Row coordinates an invocation holds (D <= D_MAX).
const D_MAX: u32 = 64u;
override D: u32 = 2u;
// CB * D.
override TILE_FLOATS: u32 = 64u;

#import grid
#import transport/cost

struct Params {
    // Rows (points of x) and columns (points of y) of each problem.
    n: u32,
    m: u32,
    batch: u32,
    gamma: f32,
    // The window: its first row and its rows, within each problem.
    row0: u32,
    rows: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> tile_y: array<f32, TILE_FLOATS>;
var<private> xr: array<vec4<f32>, D_MAX>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row_blocks = (params.rows + 4u * WG - 1u) / (4u * WG);
    let col_blocks = (params.m + CB - 1u) / CB;
    let linear = linear_workgroup(wid, nwg);
    // Uniform per workgroup, so the barrier below is reached by all or none.
    if (linear >= row_blocks * col_blocks * params.batch) {
        return;
    }
    let b = linear / (row_blocks * col_blocks);
    let rest = linear % (row_blocks * col_blocks);
    // This invocation's first row, within the problem.
    let row0 = params.row0 + (rest / col_blocks) * 4u * WG + 4u * lid;
    let col0 = (rest % col_blocks) * CB;

    for (var t = lid; t < CB * D; t = t + WG) {
        let j = min(col0 + t / D, params.m - 1u);
        tile_y[t] = ys[(b * params.m + j) * D + t % D];
    }
    let last = params.row0 + params.rows - 1u;
    let r = vec4<u32>(
        min(row0, last),
        min(row0 + 1u, last),
        min(row0 + 2u, last),
        min(row0 + 3u, last),
    ) + vec4<u32>(b * params.n);
    for (var k = 0u; k < D; k = k + 1u) {
        xr[k] = vec4<f32>(xs[r.x * D + k], xs[r.y * D + k], xs[r.z * D + k], xs[r.w * D + k]);
    }
    workgroupBarrier();

    for (var g = 0u; g < CB; g = g + COLS) {
        var parts: array<CostParts, COLS>;
        for (var q = 0u; q < COLS; q = q + 1u) {
            parts[q] = cost_parts_zero();
        }
        for (var k = 0u; k < D; k = k + 1u) {
            let x = xr[k];
            for (var q = 0u; q < COLS; q = q + 1u) {
                parts[q] = cost_add(parts[q], x - vec4<f32>(tile_y[(g + q) * D + k]));
            }
        }
        for (var q = 0u; q < COLS; q = q + 1u) {
            let j = col0 + g + q;
            if (j >= params.m) {
                break;
            }
            let cost = cost_finish(parts[q], params.gamma);
            for (var l = 0u; l < 4u; l = l + 1u) {
                let i = row0 + l;
                if (i <= last) {
                    c[(b * params.rows + i - params.row0) * params.m + j] = cost[l];
                }
            }
        }
    }
}
