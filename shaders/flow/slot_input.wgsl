// The network input of SLOTS particles at once (its layout in flow/layout), written into
// the generated network's rows `act` (flow::eval::network_input on the CPU).
//
// The importing kernel provides `y_in_at(slot, i)` and `t_in` (each slot's state and
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
            tan_put(s, i, 0.0);
        }
        for (var i = 0u; i < shape.dim; i = i + 1u) {
            act_put(s, x_off + i, y_in_at(s, i));
        }
        for (var i = 0u; i < shape.cond_dim; i = i + 1u) {
            act_put(s, x_off + shape.dim + i, cond_value(s, i));
        }
        let time = t_in[s] * shape.time_scale;
        if (shape.time_pos != TIME_NONE) {
            if (shape.emb_dim == 0u) {
                act_put(s, t_off, time);
            } else {
                for (var k = 0u; k < half; k = k + 1u) {
                    let freq = embedding_frequency(shape, k);
                    act_put(s, t_off + k, cos(time * freq));
                    act_put(s, t_off + half + k, sin(time * freq));
                }
            }
        }
    }
    return x_off;
}
