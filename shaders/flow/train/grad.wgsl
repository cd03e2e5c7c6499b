// One layer's parameter gradients: thread per (model, parameter), summing over the
// model's batch rows in a fixed order (deterministic: no atomics). dW_oi = sum_r dL/dz_o
// h_i, db_o = sum_r dL/dz_o. Twin: flow::train::reference::loss_and_gradient.

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

#import grid

@group(0) @binding(0) var<storage, read> tape: array<f32>;
@group(0) @binding(1) var<storage, read> back: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let count = OUT * IN + OUT;
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * count) {
        return;
    }
    let model = index / count;
    let k = index % count;
    var sum = 0.0;
    if (k < OUT * IN) {
        let o = k / IN;
        let i = k % IN;
        for (var s = 0u; s < B; s = s + 1u) {
            let row = (model * B + s) * TAPE;
            sum = sum + back[row + Z_OFF + o] * tape[row + IN_OFF + i];
        }
    } else {
        let o = k - OUT * IN;
        for (var s = 0u; s < B; s = s + 1u) {
            sum = sum + back[(model * B + s) * TAPE + Z_OFF + o];
        }
    }
    grads[model * PARAMS + P_OFF + k] = sum;
}
