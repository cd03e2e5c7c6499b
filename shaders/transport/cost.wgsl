// Ground costs computed on the fly between a source point r of the invocation and a
// target point c. One of COST_SQEUCLID, COST_EUCLID, COST_L1, COST_ELASTIC selects the
// cost.
//
// The importing kernel provides `override D` (dimension), `fn x_coord(r, k) -> f32` and
// `fn y_coord(c, k) -> f32` (coordinate k of its r-th source and c-th target point, from
// registers, a workgroup tile or memory).
//
// Squared distances are summed from differences, never as |x|^2 + |y|^2 - 2 x.y, which
// cancels catastrophically for nearby points.

fn pair_cost(r: u32, c: u32, gamma: f32) -> f32 {
    var sq = 0.0;
    var l1 = 0.0;
    for (var k = 0u; k < D; k = k + 1u) {
        let diff = x_coord(r, k) - y_coord(c, k);
#ifdef COST_L1
        l1 = l1 + abs(diff);
#else
        sq = fma(diff, diff, sq);
#ifdef COST_ELASTIC
        l1 = l1 + abs(diff);
#endif
#endif
    }
#ifdef COST_SQEUCLID
    return sq;
#endif
#ifdef COST_EUCLID
    return sqrt(sq);
#endif
#ifdef COST_L1
    return l1;
#endif
#ifdef COST_ELASTIC
    return 0.5 * sq + gamma * l1;
#endif
}
