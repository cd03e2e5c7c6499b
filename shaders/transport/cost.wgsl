// Ground costs computed on the fly from coordinate differences. One of COST_SQEUCLID,
// COST_EUCLID, COST_L1, COST_ELASTIC selects the cost. Four pairs at a time (vec4 lanes
// hold four source rows against one target point); transport/pair_cost is the one-pair
// form.
//
// Squared distances are summed from differences, never as |x|^2 + |y|^2 - 2 x.y, which
// cancels catastrophically for nearby points.

// Running sums of one cost over the coordinates: squared and absolute differences.
struct CostParts {
    sq: vec4<f32>,
    l1: vec4<f32>,
}

fn cost_parts_zero() -> CostParts {
    return CostParts(vec4<f32>(0.0), vec4<f32>(0.0));
}

fn cost_add(parts: CostParts, diff: vec4<f32>) -> CostParts {
    var p = parts;
#ifdef COST_L1
    p.l1 = p.l1 + abs(diff);
#else
    p.sq = fma(diff, diff, p.sq);
#ifdef COST_ELASTIC
    p.l1 = p.l1 + abs(diff);
#endif
#endif
    return p;
}

fn cost_finish(p: CostParts, gamma: f32) -> vec4<f32> {
#ifdef COST_SQEUCLID
    return p.sq;
#endif
#ifdef COST_EUCLID
    return sqrt(p.sq);
#endif
#ifdef COST_L1
    return p.l1;
#endif
#ifdef COST_ELASTIC
    return 0.5 * p.sq + gamma * p.l1;
#endif
}
