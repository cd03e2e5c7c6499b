// The network input for a state at time t: [x, c, tau(t)] or [tau(t), x, c], where tau(t)
// is t * time_scale or its sinusoidal embedding [cos(s f_k), sin(s f_k)],
// f_k = period^(-k / (K/2)), s = t * time_scale (flow::eval::network_input on the CPU).
//
// The importing kernel provides `y_in` (the state), `fn cond_value(i: u32) -> f32` (the
// conditioning vector) and the mlp.wgsl globals `act` and `tan`.

struct InputLayout {
    dim: u32,
    cond_dim: u32,
    // 0: t last, 1: t first, 2: no t.
    time_pos: u32,
    // Width of the sinusoidal time embedding (0: raw t).
    emb_dim: u32,
    time_scale: f32,
    emb_period: f32,
}

// Writes the input into act (tan zeroed); returns the offset of x inside it.
fn load_input_with(shape: InputLayout, t: f32) -> u32 {
    let s = t * shape.time_scale;
    let time_width = select(select(1u, shape.emb_dim, shape.emb_dim > 0u), 0u, shape.time_pos == 2u);
    let x_off = select(0u, time_width, shape.time_pos == 1u);
    let t_off = select(shape.dim + shape.cond_dim, 0u, shape.time_pos == 1u);
    for (var i = 0u; i < shape.dim + shape.cond_dim + time_width; i = i + 1u) {
        tan[i] = 0.0;
    }
    for (var i = 0u; i < shape.dim; i = i + 1u) {
        act[x_off + i] = y_in[i];
    }
    for (var i = 0u; i < shape.cond_dim; i = i + 1u) {
        act[x_off + shape.dim + i] = cond_value(i);
    }
    if (shape.time_pos != 2u) {
        if (shape.emb_dim == 0u) {
            act[t_off] = s;
        } else {
            let half = shape.emb_dim / 2u;
            for (var k = 0u; k < half; k = k + 1u) {
                let freq = exp(-log(shape.emb_period) * f32(k) / f32(half));
                act[t_off + k] = cos(s * freq);
                act[t_off + half + k] = sin(s * freq);
            }
        }
    }
    return x_off;
}
