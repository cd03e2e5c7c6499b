// Adam (AdamW when decay < 1) as PyTorch steps it, thread per (model, parameter), with
// the bias corrections computed on the host in f64. The first thread of each model also
// records the step's mean loss (rows summed in a fixed order). Twin:
// flow::train::reference::Adam::step.

override WG: u32 = 64u;
override B: u32 = 256u;
override D: u32 = 2u;
override MODELS: u32 = 1u;
override PARAMS: u32 = 1u;
override BETA1: f32 = 0.9;
override BETA2: f32 = 0.999;
override EPS: f32 = 1e-8;

#import grid
#import flow/train/step_block

@group(0) @binding(0) var<uniform> step: StepBlock;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> moments: array<f32>;
@group(0) @binding(4) var<storage, read> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> losses: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * PARAMS) {
        return;
    }
    let g = grads[index];
    let m = BETA1 * moments[index] + (1.0 - BETA1) * g;
    let v = BETA2 * moments[MODELS * PARAMS + index] + (1.0 - BETA2) * g * g;
    moments[index] = m;
    moments[MODELS * PARAMS + index] = v;
    let theta = params[index] * step.decay;
    params[index] = theta - step.step_size * m / (sqrt(v) * step.inverse_root_correction + EPS);
    if (index % PARAMS == 0u) {
        let model = index / PARAMS;
        var total = 0.0;
        for (var s = 0u; s < B; s = s + 1u) {
            total = total + row_loss[model * B + s];
        }
        losses[step.slot * MODELS + model] = total / f32(B * D);
    }
}
