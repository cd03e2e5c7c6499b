// The network input for one state at time t (its layout in flow/layout).
//
// The importing kernel provides `y_in` (the state), `fn cond_value(i: u32) -> f32` (the
// conditioning vector) and the mlp.wgsl globals `act` and `tan`.

#import flow/layout

// Writes the input into act (tan zeroed); returns the offset of x inside it.
fn load_input_with(shape: InputLayout, t: f32) -> u32 {
    let s = t * shape.time_scale;
    let offsets = input_offsets(shape);
    let time_width = offsets.x;
    let x_off = offsets.y;
    let t_off = offsets.z;
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
                let freq = embedding_frequency(shape, k);
                act[t_off + k] = cos(s * freq);
                act[t_off + half + k] = sin(s * freq);
            }
        }
    }
    return x_off;
}
