// A field evaluated for SLOTS particles at once through the generated network of
// flow/net: the network input [x, c, tau(t)] or [tau(t), x, c] of every slot (tau(t) is
// t * time_scale or its sinusoidal embedding [cos(s f_k), sin(s f_k)],
// f_k = period^(-k / (K/2)), s = t * time_scale), and one call of the network per pass
// (flow::eval on the CPU).
//
// The importing kernel provides `const MAX_A`, `y_in` and `t_in` (each slot's state and
// time), `fn cond_value(slot: u32, i: u32) -> f32` (its conditioning vector) and
// `fn slot_count() -> u32` (SLOTS, read where loops over the slots should stay loops).

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

// Writes every slot's network input into act (tan zeroed); returns the offset of x.
fn load_inputs(shape: InputLayout) -> u32 {
    let time_width = select(select(1u, shape.emb_dim, shape.emb_dim > 0u), 0u, shape.time_pos == 2u);
    let x_off = select(0u, time_width, shape.time_pos == 1u);
    let t_off = select(shape.dim + shape.cond_dim, 0u, shape.time_pos == 1u);
    let half = shape.emb_dim / 2u;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        for (var i = 0u; i < shape.dim + shape.cond_dim + time_width; i = i + 1u) {
            tan[s][i] = 0.0;
        }
        for (var i = 0u; i < shape.dim; i = i + 1u) {
            act[s][x_off + i] = y_in[s][i];
        }
        for (var i = 0u; i < shape.cond_dim; i = i + 1u) {
            act[s][x_off + shape.dim + i] = cond_value(s, i);
        }
        let time = t_in[s] * shape.time_scale;
        if (shape.time_pos != 2u) {
            if (shape.emb_dim == 0u) {
                act[s][t_off] = time;
            } else {
                for (var k = 0u; k < half; k = k + 1u) {
                    let freq = exp(-log(shape.emb_period) * f32(k) / f32(half));
                    act[s][t_off + k] = cos(time * freq);
                    act[s][t_off + half + k] = sin(time * freq);
                }
            }
        }
    }
    return x_off;
}

// One pass of the network over every slot, optionally with a tangent: the unit vector
// along input coordinate `unit` of x, or (probe) each slot's `probe` vector.
fn network_pass(shape: InputLayout, tangent: bool, unit: u32, use_probe: bool) {
    let x_off = load_inputs(shape);
    if (tangent) {
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            if (use_probe) {
                for (var c = 0u; c < shape.dim; c = c + 1u) {
                    tan[s][x_off + c] = probe[s][c];
                }
            } else {
                tan[s][x_off + unit] = 1.0;
            }
        }
        net_tangent();
    } else {
        net_forward();
    }
}
