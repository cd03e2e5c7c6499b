// Draws the target index j of K plan samples whose source rows i_k are already drawn:
// j ~ P_ij / r_i = exp(arg_ij - lse_i), arg_ij = [log b_j] + (g_j - C_ij) / eps,
// by inverse transform on a uniform u_k: the first j whose running sum reaches u_k.
// P is never stored; each invocation walks the columns of its row through shared tiles.
// A target beyond one binding is walked a window per dispatch, each sample carrying its
// running sum and choice to the next; samples are grouped by the source window that
// holds their row, which `row_pts` binds.
//! variants: COST_SQEUCLID|COST_EUCLID|COST_L1|COST_ELASTIC|COST_DENSE

override WG: u32 = 64u;
override TILE: u32 = 64u;
override D: u32 = 2u;
override TILE_FLOATS: u32 = 128u;

const LOG2E: f32 = 1.4426950408889634;

#import grid
#import lse
#import transport/column_tile


@group(0) @binding(0) var<uniform> params: ColumnParams;
// The window of source points (rows x D), or for COST_DENSE of cost-matrix rows.
@group(0) @binding(1) var<storage, read> row_pts: array<f32>;
@group(0) @binding(2) var<storage, read> col_pts: array<f32>;
@group(0) @binding(3) var<storage, read> log_w: array<f32>;
@group(0) @binding(4) var<storage, read> col_pot: array<f32>;
// Natural log-sum-exp of each source row (the STATS pass wrote it).
@group(0) @binding(5) var<storage, read> row_lse: array<f32>;
// Per sample: (row, bits of the uniform).
@group(0) @binding(6) var<storage, read> draws: array<vec2<u32>>;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;
// Per sample between windows: bits of the running sum, the choice, the last column with mass.
@group(0) @binding(8) var<storage, read_write> carry: array<vec4<u32>>;

var<private> x_base: u32;

fn x_coord(r: u32, k: u32) -> f32 {
    return row_pts[x_base + k];
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
    let linear = linear_workgroup(wid, nwg);
    if (linear * WG >= params.count) {
        return;
    }
    let s = params.first_query + min(linear * WG + lid, params.count - 1u);
    let draw = draws[s];
    let row = draw.x;
    let u = bitcast<f32>(draw.y);
    x_base = (row - params.row_start) * params.row_stride;
    let scale = LOG2E / params.eps;
    let shift = row_lse[row] * LOG2E;
    var running = 0.0;
    var chosen = 0xffffffffu;
    var last_positive = 0u;
    if (!first_window()) {
        let carried = carry[s];
        running = bitcast<f32>(carried.x);
        chosen = carried.y;
        last_positive = carried.z;
    }
    for (var t0 = 0u; t0 < params.cols; t0 = t0 + TILE) {
        load_column_tile(t0, lid, scale);
        workgroupBarrier();
        if (chosen == 0xffffffffu) {
            for (var c = 0u; c < min(TILE, params.cols - t0); c = c + 1u) {
#ifdef COST_DENSE
                let cost = row_pts[x_base + params.col_start + t0 + c];
#else
                let cost = pair_cost(0u, c, params.gamma);
#endif
                let p = exp2(tile_w[c] - cost * scale - shift);
                if (p > 0.0) {
                    last_positive = params.col_start + t0 + c;
                }
                running = running + p;
                if (running >= u) {
                    chosen = params.col_start + t0 + c;
                    break;
                }
            }
        }
        workgroupBarrier();
    }
    if (linear * WG + lid >= params.count) {
        return;
    }
    if (!last_window()) {
        carry[s] = vec4<u32>(bitcast<u32>(running), chosen, last_positive, 0u);
        return;
    }
    // Rounding can leave the total a hair below u: take the last column with mass.
    if (chosen == 0xffffffffu) {
        chosen = last_positive;
    }
    out[s] = chosen;
}
