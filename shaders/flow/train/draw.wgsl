// Draws every model's batch of source and target points for one step: thread per (model,
// row). Built-in samplers draw from their formulas; point clouds give rows drawn uniformly
// with replacement. Twin: flow::train::reference::draw_endpoints.

override WG: u32 = 64u;
override B: u32 = 256u;
override D: u32 = 2u;
override MODELS: u32 = 1u;
override SOURCE: u32 = 0u;
override TARGET: u32 = 1u;
override SOURCE_ROWS: u32 = 1u;
override TARGET_ROWS: u32 = 1u;
// 0 when the method draws no source (flow matching from noise).
override DRAW_SOURCE: u32 = 1u;

#import grid
#import flow/train/draws
#import flow/train/step_block

@group(0) @binding(0) var<uniform> step: StepBlock;
@group(0) @binding(1) var<storage, read> seeds: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> source_points: array<f32>;
@group(0) @binding(3) var<storage, read> target_points: array<f32>;
@group(0) @binding(4) var<storage, read_write> x0: array<f32>;
@group(0) @binding(5) var<storage, read_write> x1: array<f32>;

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
    let model = r / B;
    let row = r % B;
    let key = seeds[model];
    if (DRAW_SOURCE != 0u) {
        if (SOURCE == SAMPLER_POINTS) {
            let p = point_row(key, row, step.step, PURPOSE_SOURCE, SOURCE_ROWS);
            for (var c = 0u; c < D; c = c + 1u) {
                x0[r * D + c] = source_points[p * D + c];
            }
        } else {
            for (var c = 0u; c < D; c = c + 1u) {
                x0[r * D + c] = builtin_coord(SOURCE, key, row, step.step, PURPOSE_SOURCE, B, c);
            }
        }
    }
    if (TARGET == SAMPLER_POINTS) {
        let p = point_row(key, row, step.step, PURPOSE_TARGET, TARGET_ROWS);
        for (var c = 0u; c < D; c = c + 1u) {
            x1[r * D + c] = target_points[p * D + c];
        }
    } else {
        for (var c = 0u; c < D; c = c + 1u) {
            x1[r * D + c] = builtin_coord(TARGET, key, row, step.step, PURPOSE_TARGET, B, c);
        }
    }
}
