// A field's value at the state y_in: the network's output, or for a scalar network (a
// potential s) its gradient ∇x s from one forward tangent per coordinate; and the
// divergence by central differences, with forward evaluations only (flow::eval on the
// CPU).
//
// A network is a range of layers of the mlp.wgsl table. The importing kernel provides
// `const MAX_A`, `y_in` (the state, MAX_A values) and what flow/input.wgsl needs.

struct FieldRef {
    shape: InputLayout,
    first_layer: u32,
    layer_count: u32,
    scalar: bool,
}

// Writes v(y_in, t) into out[0 .. dim]. (Each call site of the network is inlined by
// shader compilers, so every path goes through the one in field_component.)
fn field_value(f: FieldRef, t: f32, out: ptr<private, array<f32, MAX_A>>) {
    let passes = select(1u, f.shape.dim, f.scalar);
    for (var k = 0u; k < passes; k = k + 1u) {
        let value = field_component(f, t, k);
        if (f.scalar) {
            (*out)[k] = value;
        } else {
            for (var i = 0u; i < f.shape.dim; i = i + 1u) {
                (*out)[i] = act[i];
            }
        }
    }
}

// Component k of v(y_in, t) (for a plain network, act holds all of v afterwards).
fn field_component(f: FieldRef, t: f32, k: u32) -> f32 {
    let x_off = load_input_with(f.shape, t);
    if (f.scalar) {
        tan[x_off + k] = 1.0;
    }
    mlp_run_layers(f.first_layer, f.layer_count, f.scalar);
    return select(act[k], tan[0], f.scalar);
}

// Σ_k (v_k(y + δ_k e_k) − v_k(y − δ_k e_k)) / (2 δ_k), δ_k = step max(1, |y_k|); the
// divisor is the difference of the two rounded arguments, so f32 rounding of y ± δ does
// not bias the quotient. y_in is restored.
fn central_divergence(f: FieldRef, t: f32, step: f32) -> f32 {
    var div = 0.0;
    for (var k = 0u; k < f.shape.dim; k = k + 1u) {
        let x = y_in[k];
        let delta = step * max(1.0, abs(x));
        let up = x + delta;
        let down = x - delta;
        var diff = 0.0;
        for (var side = 0u; side < 2u; side = side + 1u) {
            y_in[k] = select(down, up, side == 0u);
            diff = diff + select(-1.0, 1.0, side == 0u) * field_component(f, t, k);
        }
        y_in[k] = x;
        div = div + diff / (up - down);
    }
    return div;
}
