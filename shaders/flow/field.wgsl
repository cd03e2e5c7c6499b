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

// Writes v(y_in, t) into out[0 .. dim].
fn field_value(f: FieldRef, t: f32, out: ptr<private, array<f32, MAX_A>>) {
    if (!f.scalar) {
        _ = load_input_with(f.shape, t);
        mlp_run_layers(f.first_layer, f.layer_count, false);
        for (var i = 0u; i < f.shape.dim; i = i + 1u) {
            (*out)[i] = act[i];
        }
        return;
    }
    for (var k = 0u; k < f.shape.dim; k = k + 1u) {
        (*out)[k] = field_component(f, t, k);
    }
}

// Component k of v(y_in, t).
fn field_component(f: FieldRef, t: f32, k: u32) -> f32 {
    let x_off = load_input_with(f.shape, t);
    if (!f.scalar) {
        mlp_run_layers(f.first_layer, f.layer_count, false);
        return act[k];
    }
    tan[x_off + k] = 1.0;
    mlp_run_layers(f.first_layer, f.layer_count, true);
    return tan[0];
}

// The value a network gives at (y_in, t) (a scalar network's s, e.g. a growth head).
fn network_scalar(f: FieldRef, t: f32) -> f32 {
    _ = load_input_with(f.shape, t);
    mlp_run_layers(f.first_layer, f.layer_count, false);
    return act[0];
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
        y_in[k] = up;
        let v_up = field_component(f, t, k);
        y_in[k] = down;
        let v_down = field_component(f, t, k);
        y_in[k] = x;
        div = div + (v_up - v_down) / (up - down);
    }
    return div;
}
