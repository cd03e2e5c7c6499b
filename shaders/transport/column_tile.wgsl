// The target side of a solved problem, a workgroup tile at a time, for the kernels that
// walk all columns once per query (maps, plan samples): the tile of target points and
// their exponent offsets w_j = [log b_j] + g_j / eps in log2 units.
//
// A dispatch walks one window of columns (`col_start` ..+ `cols`); `col_pts` is bound to
// that window, `col_pot` and `log_w` whole. Problems whose target fits one binding have
// one window; larger ones carry partial results across windows (`flags`).
//
// The importing kernel declares `params: ColumnParams` and the bindings `col_pts`,
// `log_w` and `col_pot`, and the overrides WG, TILE, D and TILE_FLOATS.

#import lse

struct ColumnParams {
    // Queries (points to map, samples to draw) of this dispatch.
    count: u32,
    // Columns of this window.
    cols: u32,
    // Offset of the target log-weights inside `log_w`.
    col_w_offset: u32,
    // 1: entropy convention, 0: KL(P | a x b).
    entropy: u32,
    eps: f32,
    gamma: f32,
    // First column of the window.
    col_start: u32,
    // FIRST_WINDOW | LAST_WINDOW: whether partial results are read from / written to
    // `carry` instead of started fresh / written out.
    flags: u32,
    // First source row bound to `row_pts` (sampling).
    row_start: u32,
    // Floats per row of `row_pts` (D for points, all columns for a cost matrix).
    row_stride: u32,
    // Index of this dispatch's first query in `draws`, `out` and `carry`.
    first_query: u32,
    // Columns of the whole problem.
    total_cols: u32,
}

const FIRST_WINDOW: u32 = 1u;
const LAST_WINDOW: u32 = 2u;

fn first_window() -> bool {
    return (params.flags & FIRST_WINDOW) != 0u;
}

fn last_window() -> bool {
    return (params.flags & LAST_WINDOW) != 0u;
}

var<workgroup> tile_y: array<f32, TILE_FLOATS>;
var<workgroup> tile_w: array<f32, TILE>;

fn y_coord(c: u32, k: u32) -> f32 {
    return tile_y[c * D + k];
}

// Loads columns t0 .. t0 + TILE (-inf offsets past the end). Call from every invocation
// of the workgroup, then barrier before reading.
fn load_column_tile(t0: u32, lid: u32, scale: f32) {
    for (var c = lid; c < TILE; c = c + WG) {
        let j = t0 + c;
        var w = f32_neg_inf();
        if (j < params.cols) {
            w = col_pot[params.col_start + j] * scale;
            if (params.entropy == 0u) {
                w = w + log_w[params.col_w_offset + params.col_start + j] * 1.4426950408889634;
            }
        }
        tile_w[c] = w;
#ifndef COST_DENSE
        let jj = min(j, params.cols - 1u);
        for (var k = 0u; k < D; k = k + 1u) {
            tile_y[c * D + k] = col_pts[jj * D + k];
        }
#endif
    }
}
