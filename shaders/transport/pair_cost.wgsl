// One pair at a time, for kernels that are not bound by the cost (maps, sampling,
// plans, statistics).

#import transport/cost

// The cost between source point r and target point c of the importing kernel, which
// provides `override D`, `fn x_coord(r, k) -> f32` and `fn y_coord(c, k) -> f32`.
fn pair_cost(r: u32, c: u32, gamma: f32) -> f32 {
    var parts = cost_parts_zero();
    for (var k = 0u; k < D; k = k + 1u) {
        parts = cost_add(parts, vec4<f32>(x_coord(r, k) - y_coord(c, k)));
    }
    return cost_finish(parts, gamma).x;
}
