// The squared Euclidean cost between source row i and target row j of a model's batch,
// for the pairing kernels, which declare `x0` and `x1` (B rows of D per model) and the
// overrides B and D.

fn pair_cost(model: u32, i: u32, j: u32) -> f32 {
    var c = 0.0;
    let a = (model * B + i) * D;
    let b = (model * B + j) * D;
    for (var k = 0u; k < D; k = k + 1u) {
        let e = x0[a + k] - x1[b + k];
        c = c + e * e;
    }
    return c;
}
