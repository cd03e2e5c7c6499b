// Where each part of a network's input lies: [x, c, tau(t)] or [tau(t), x, c], where
// tau(t) is s = t * time_scale or its sinusoidal embedding [cos(s f_k), sin(s f_k)],
// f_k = period^(-k / (K/2)) (flow::eval::network_input on the CPU). The input loader of
// the batched kernels (flow/slot_input) uses it.

#import flow/codes

struct InputLayout {
    dim: u32,
    cond_dim: u32,
    // TIME_* of flow/codes.
    time_pos: u32,
    // Width of the sinusoidal time embedding (0: raw t).
    emb_dim: u32,
    time_scale: f32,
    emb_period: f32,
}

// (width of tau(t), offset of x, offset of tau(t)) inside the input.
fn input_offsets(shape: InputLayout) -> vec3<u32> {
    let time_width = select(select(1u, shape.emb_dim, shape.emb_dim > 0u), 0u, shape.time_pos == TIME_NONE);
    let x_off = select(0u, time_width, shape.time_pos == TIME_FIRST);
    let t_off = select(shape.dim + shape.cond_dim, 0u, shape.time_pos == TIME_FIRST);
    return vec3<u32>(time_width, x_off, t_off);
}

// Frequency k of the sinusoidal embedding.
fn embedding_frequency(shape: InputLayout, k: u32) -> f32 {
    let half = shape.emb_dim / 2u;
    return exp(-log(shape.emb_period) * f32(k) / f32(half));
}
