// The target side of a solved problem, a workgroup tile at a time, for the kernels that
// walk all columns once per query (maps, plan samples): the tile of target points and
// their exponent offsets w_j = [log b_j] + g_j / eps in log2 units.
//
// The importing kernel declares `params: ColumnParams` and the bindings `col_pts`,
// `log_w` and `col_pot`, and the overrides WG, TILE, D and TILE_FLOATS.

#import lse

struct ColumnParams {
    // Queries (points to map, samples to draw).
    count: u32,
    cols: u32,
    // Offset of the target log-weights inside `log_w`.
    col_w_offset: u32,
    // 1: entropy convention, 0: KL(P | a x b).
    entropy: u32,
    eps: f32,
    gamma: f32,
    _pad0: f32,
    _pad1: f32,
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
            w = col_pot[j] * scale;
            if (params.entropy == 0u) {
                w = w + log_w[params.col_w_offset + j] * 1.4426950408889634;
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
