// The loss of every row and the gradient at the network's output: thread per row.
// diff = a v - u (a the row's factor: 1 for a flow, lambda(t) for a score network);
// dL/dv = 2 a diff / (B D) on the gradient tape; row_loss = sum of diff^2.
// Twin: flow::train::reference::loss_and_gradient.

override WG: u32 = 64u;
override B: u32 = 256u;
override D: u32 = 2u;
override MODELS: u32 = 1u;
override TAPE: u32 = 1u;
override OUT_OFF: u32 = 0u;

#import grid

@group(0) @binding(0) var<storage, read> tape: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read_write> back: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let r = linear_workgroup(wid, nwg) * WG + lid;
    if (r >= MODELS * B) {
        return;
    }
    let scale = 2.0 / f32(B * D);
    let a = weights[r];
    var total = 0.0;
    for (var c = 0u; c < D; c = c + 1u) {
        let diff = a * tape[r * TAPE + OUT_OFF + c] - targets[r * D + c];
        total = total + diff * diff;
        back[r * TAPE + OUT_OFF + c] = scale * a * diff;
    }
    row_loss[r] = total;
}
