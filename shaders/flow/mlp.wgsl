// A multilayer perceptron evaluated by one invocation, optionally with a forward-mode
// tangent (J v for a direction v of the input), as flow::eval does on the CPU.
//
// The importing kernel provides `const MAX_W` (widest layer), `var<uniform> net:
// Network` and `fn weight(i: u32) -> f32` (the packed parameters: per layer W [out, in]
// row-major, then b). On entry `act` (and `tan`) hold the input; on exit the output.
// Several networks may share the layer table: each is a range of consecutive layers.

const MAX_LAYERS: u32 = 64u;

struct Network {
    layer_count: u32,
    input_width: u32,
    // 1: the (first) network is scalar, its field the gradient of its output.
    scalar: u32,
    _pad1: u32,
    // Per layer: (offset of W, inputs, outputs, flags): flags bit 0 = residual,
    // bits 8..15 = activation code.
    layers: array<vec4<u32>, MAX_LAYERS>,
}

var<private> act: array<f32, MAX_W>;
var<private> act_next: array<f32, MAX_W>;
var<private> tan: array<f32, MAX_W>;
var<private> tan_next: array<f32, MAX_W>;

fn mlp_run(with_tangent: bool) {
    mlp_run_layers(0u, net.layer_count, with_tangent);
}

// Runs layers first .. first + count of the table.
fn mlp_run_layers(first: u32, count: u32, with_tangent: bool) {
    for (var l = first; l < first + count; l = l + 1u) {
        let layer = net.layers[l];
        let w_off = layer.x;
        let inputs = layer.y;
        let outputs = layer.z;
        let residual = (layer.w & 1u) != 0u;
        let code = (layer.w >> 8u) & 255u;
        let b_off = w_off + inputs * outputs;
        for (var o = 0u; o < outputs; o = o + 1u) {
            var z = weight(b_off + o);
            var dz = 0.0;
            let row = w_off + o * inputs;
            if (with_tangent) {
                for (var i = 0u; i < inputs; i = i + 1u) {
                    let w = weight(row + i);
                    z = fma(w, act[i], z);
                    dz = fma(w, tan[i], dz);
                }
                var dy = activate_derivative(code, z) * dz;
                if (residual) {
                    dy = dy + tan[o];
                }
                tan_next[o] = dy;
            } else {
                for (var i = 0u; i < inputs; i = i + 1u) {
                    z = fma(weight(row + i), act[i], z);
                }
            }
            var y = activate(code, z);
            if (residual) {
                y = y + act[o];
            }
            act_next[o] = y;
        }
        for (var o = 0u; o < outputs; o = o + 1u) {
            act[o] = act_next[o];
            tan[o] = tan_next[o];
        }
    }
}
