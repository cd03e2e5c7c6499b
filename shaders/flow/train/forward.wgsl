// One layer of the forward pass for every model's batch: thread per (row, output unit).
// z = W h + b from the layer's input on the tape; hidden layers also store their output
// h = act(z) (+ the input, for a residual layer). Twin: flow::train::reference::forward.

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
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * B * OUT) {
        return;
    }
    let r = index / OUT;
    let o = index % OUT;
    let w = (r / B) * PARAMS + P_OFF;
    let h = r * TAPE + IN_OFF;
    var z = params[w + OUT * IN + o];
    for (var i = 0u; i < IN; i = i + 1u) {
        z = z + params[w + o * IN + i] * tape[h + i];
    }
    tape[r * TAPE + Z_OFF + o] = z;
    if (HAS_H) {
        var y = activate(ACT, z);
        if (RESIDUAL) {
            y = y + tape[h + o];
        }
        tape[r * TAPE + H_OFF + o] = y;
    }
}
