// One layer of the forward pass for every model's batch. Each invocation computes a tile
// of 4 rows x 4 output units, so every weight and every input it loads feeds four
// multiply-adds (a register-blocked product of the batch's inputs and the layer's
// weights). z = W h + b from the layer's input on the tape; hidden layers also store their
// output h = act(z) (+ the input, for a residual layer). Twin:
// flow::train::reference::forward.

override WG: u32 = 64u;
override B: u32 = 256u;
override MODELS: u32 = 1u;
override TAPE: u32 = 1u;
override PARAMS: u32 = 1u;
override IN: u32 = 1u;
override OUT: u32 = 1u;
override P_OFF: u32 = 0u;
override IN_OFF: u32 = 0u;
override Z_OFF: u32 = 0u;
override H_OFF: u32 = 0u;
override HAS_H: bool = true;
override RESIDUAL: bool = false;
override ACT: u32 = 0u;

#import grid
#import activations

@group(0) @binding(0) var<storage, read> params: array<f32>;
@group(0) @binding(1) var<storage, read_write> tape: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Tiles never straddle models: B rows of a model form B / 4 (rounded up) row tiles.
    let row_tiles = (B + 3u) / 4u;
    let out_tiles = (OUT + 3u) / 4u;
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * row_tiles * out_tiles) {
        return;
    }
    let o0 = (index % out_tiles) * 4u;
    let tile = index / out_tiles;
    let model = tile / row_tiles;
    let s0 = (tile % row_tiles) * 4u;
    let w = model * PARAMS + P_OFF;
    // Rows and outputs past the end are clamped for loading and not written. The tile
    // lives in four vec4 registers (no dynamically indexed arrays, which compilers keep
    // in memory).
    let r0 = (model * B + min(s0, B - 1u)) * TAPE + IN_OFF;
    let r1 = (model * B + min(s0 + 1u, B - 1u)) * TAPE + IN_OFF;
    let r2 = (model * B + min(s0 + 2u, B - 1u)) * TAPE + IN_OFF;
    let r3 = (model * B + min(s0 + 3u, B - 1u)) * TAPE + IN_OFF;
    let u0 = w + min(o0, OUT - 1u) * IN;
    let u1 = w + min(o0 + 1u, OUT - 1u) * IN;
    let u2 = w + min(o0 + 2u, OUT - 1u) * IN;
    let u3 = w + min(o0 + 3u, OUT - 1u) * IN;
    let b = w + OUT * IN;
    let bias = vec4<f32>(
        params[b + min(o0, OUT - 1u)],
        params[b + min(o0 + 1u, OUT - 1u)],
        params[b + min(o0 + 2u, OUT - 1u)],
        params[b + min(o0 + 3u, OUT - 1u)],
    );
    var z0 = bias;
    var z1 = bias;
    var z2 = bias;
    var z3 = bias;
    for (var i = 0u; i < IN; i = i + 1u) {
        let weights = vec4<f32>(params[u0 + i], params[u1 + i], params[u2 + i], params[u3 + i]);
        z0 = z0 + weights * tape[r0 + i];
        z1 = z1 + weights * tape[r1 + i];
        z2 = z2 + weights * tape[r2 + i];
        z3 = z3 + weights * tape[r3 + i];
    }
    let z = array<vec4<f32>, 4>(z0, z1, z2, z3);
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (s0 + k >= B) {
            break;
        }
        let row = (model * B + s0 + k) * TAPE;
        for (var c = 0u; c < 4u; c = c + 1u) {
            let o = o0 + c;
            if (o < OUT) {
                tape[row + Z_OFF + o] = z[k][c];
                if (HAS_H) {
                    var y = activate(ACT, z[k][c]);
                    if (RESIDUAL) {
                        y = y + tape[row + IN_OFF + o];
                    }
                    tape[row + H_OFF + o] = y;
                }
            }
        }
    }
}
