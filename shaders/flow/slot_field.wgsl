// A field evaluated for SLOTS particles at once through the generated network of
// flow/net: the network input of every slot (its layout in flow/layout), and one call of
// the network per pass (flow::eval on the CPU).
//
// The importing kernel provides `const MAX_A`, `y_in` and `t_in` (each slot's state and
// time), `fn cond_value(slot: u32, i: u32) -> f32` (its conditioning vector) and
// `fn slot_count() -> u32` (SLOTS, read where loops over the slots should stay loops).

#import flow/layout

// Writes every slot's network input into act (tan zeroed); returns the offset of x.
fn load_inputs(shape: InputLayout) -> u32 {
    let offsets = input_offsets(shape);
    let time_width = offsets.x;
    let x_off = offsets.y;
    let t_off = offsets.z;
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
                    let freq = embedding_frequency(shape, k);
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
