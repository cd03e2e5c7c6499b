// One layer of the backward pass, for layer l >= 1. Each invocation takes a tile of 4 rows
// x 4 input units i (register-blocked: each load feeds four multiply-adds):
// dL/dh_i = sum_o W_oi dL/dz_o (+ dL/dh_out_i for a residual layer), then the previous
// layer's dL/dz_i = dL/dh_i act'(z_i). Twin: flow::train::reference::loss_and_gradient.

override WG: u32 = 64u;
override B: u32 = 256u;
override MODELS: u32 = 1u;
override TAPE: u32 = 1u;
override PARAMS: u32 = 1u;
override IN: u32 = 1u;
override OUT: u32 = 1u;
override P_OFF: u32 = 0u;
// This layer's input h (the previous layer's output) and z; the previous layer's z.
override IN_OFF: u32 = 0u;
override Z_OFF: u32 = 0u;
override PREV_Z_OFF: u32 = 0u;
// This layer's output h (read when it is residual).
override H_OFF: u32 = 0u;
override RESIDUAL: bool = false;
override ACT: u32 = 0u;

#import grid
#import activations

@group(0) @binding(0) var<storage, read> params: array<f32>;
@group(0) @binding(1) var<storage, read> tape: array<f32>;
@group(0) @binding(2) var<storage, read_write> back: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row_tiles = (B + 3u) / 4u;
    let in_tiles = (IN + 3u) / 4u;
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * row_tiles * in_tiles) {
        return;
    }
    let i0 = (index % in_tiles) * 4u;
    let tile = index / in_tiles;
    let model = tile / row_tiles;
    let s0 = (tile % row_tiles) * 4u;
    let w = model * PARAMS + P_OFF;
    let r0 = (model * B + min(s0, B - 1u)) * TAPE + Z_OFF;
    let r1 = (model * B + min(s0 + 1u, B - 1u)) * TAPE + Z_OFF;
    let r2 = (model * B + min(s0 + 2u, B - 1u)) * TAPE + Z_OFF;
    let r3 = (model * B + min(s0 + 3u, B - 1u)) * TAPE + Z_OFF;
    let c0 = w + min(i0, IN - 1u);
    let c1 = w + min(i0 + 1u, IN - 1u);
    let c2 = w + min(i0 + 2u, IN - 1u);
    let c3 = w + min(i0 + 3u, IN - 1u);
    var g0 = vec4<f32>();
    var g1 = vec4<f32>();
    var g2 = vec4<f32>();
    var g3 = vec4<f32>();
    for (var o = 0u; o < OUT; o = o + 1u) {
        let at = o * IN;
        let weights = vec4<f32>(params[c0 + at], params[c1 + at], params[c2 + at], params[c3 + at]);
        g0 = g0 + weights * back[r0 + o];
        g1 = g1 + weights * back[r1 + o];
        g2 = g2 + weights * back[r2 + o];
        g3 = g3 + weights * back[r3 + o];
    }
    let g = array<vec4<f32>, 4>(g0, g1, g2, g3);
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (s0 + k >= B) {
            break;
        }
        let row = (model * B + s0 + k) * TAPE;
        for (var c = 0u; c < 4u; c = c + 1u) {
            let i = i0 + c;
            if (i < IN) {
                var gi = g[k][c];
                if (RESIDUAL) {
                    gi = gi + back[row + H_OFF + i];
                }
                back[row + IN_OFF + i] = gi;
                back[row + PREV_Z_OFF + i] = gi * activate_derivative(ACT, tape[row + PREV_Z_OFF + i]);
            }
        }
    }
}
