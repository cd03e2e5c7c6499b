// One layer of the backward pass: thread per (row, input unit i of layer l >= 1).
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
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * B * IN) {
        return;
    }
    let r = index / IN;
    let i = index % IN;
    let w = (r / B) * PARAMS + P_OFF;
    let row = r * TAPE;
    var g = 0.0;
    for (var o = 0u; o < OUT; o = o + 1u) {
        g = g + params[w + o * IN + i] * back[row + Z_OFF + o];
    }
    if (RESIDUAL) {
        g = g + back[row + H_OFF + i];
    }
    back[row + IN_OFF + i] = g;
    back[row + PREV_Z_OFF + i] = g * activate_derivative(ACT, tape[row + PREV_Z_OFF + i]);
}
