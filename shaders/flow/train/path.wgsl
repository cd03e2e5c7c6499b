// The regression batch of one step: thread per (network, row). Picks the row's pair
// (itself; for an exact coupling a source row drawn uniformly and its matched target; or a
// pair drawn from an entropic plan), draws t (uniform, or stratified: (k + U) / B) and the
// noise, and writes the network input [x_t, t] (or [t, x_t], or [x_t]) at the start of the
// row's tape, the target and the factor of the row's output. Networks 0..MODELS are the
// flows (target u_t, factor 1); networks MODELS..NETS are their score networks (SF2M:
// the same draws as flow NET - MODELS, target -eps, factor lambda(t) = 2 sigma_t /
// (sigma^2 + 1e-8)). Twin: flow::train::reference::{pairs, regression, score_regression}.

override WG: u32 = 64u;
override B: u32 = 256u;
override D: u32 = 2u;
override MODELS: u32 = 1u;
// MODELS flows, then MODELS score networks when they are trained.
override NETS: u32 = 1u;
override TAPE: u32 = 1u;
// 0: t x1 + (1 - t) x0 + sigma eps with target x1 - x0; 1: Lipman's flow matching;
// 2: the Brownian bridge of SB-CFM, sigma sqrt(t (1 - t)).
override METHOD: u32 = 0u;
// 0: row k with row k; 1: a drawn row i with matched[i]; 2: pairs[k] from a plan.
override PAIRING: u32 = 0u;
override STRATIFIED: bool = false;
// 0: time last, 1: first, 2: none (flow::codes TIME_*).
override TIME: u32 = 0u;

#import grid
#import flow/train/draws
#import flow/train/step_block

@group(0) @binding(0) var<uniform> step: StepBlock;
@group(0) @binding(1) var<storage, read> seeds: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> x0: array<f32>;
@group(0) @binding(3) var<storage, read> x1: array<f32>;
@group(0) @binding(4) var<storage, read> matched: array<u32>;
@group(0) @binding(5) var<storage, read> pairs: array<u32>;
@group(0) @binding(6) var<storage, read_write> tape: array<f32>;
@group(0) @binding(7) var<storage, read_write> targets: array<f32>;
@group(0) @binding(8) var<storage, read_write> weights: array<f32>;
// Each model's sigma (a sweep, or the same for every model).
@group(0) @binding(9) var<storage, read> sigmas: array<f32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let r = linear_workgroup(wid, nwg) * WG + lid;
    if (r >= NETS * B) {
        return;
    }
    let net = r / B;
    let score = net >= MODELS;
    let model = net % MODELS;
    let k = r % B;
    // The pair table is the model's.
    let pr = model * B + k;
    let sigma = sigmas[model];
    let key = seeds[model];
    var i = k;
    var j = k;
    if (PAIRING == 1u) {
        i = index_below(philox4x32_10(vec4<u32>(k, step.step, PURPOSE_PAIR, 0u), key).x, B);
        j = matched[model * B + i];
    }
    if (PAIRING == 2u) {
        i = pairs[pr * 2u];
        j = pairs[pr * 2u + 1u];
    }
    let draw = rng_uniform4(key, vec4<u32>(k, step.step, PURPOSE_TIME, 0u)).x;
    let t = select(draw, (f32(k) + draw) / f32(B), STRATIFIED);
    let first = select(0u, 1u, TIME == 1u);
    let at = r * TAPE;
    var sigma_t = sigma;
    for (var c = 0u; c < D; c = c + 1u) {
        let eps = rng_normal4(key, vec4<u32>(k, step.step, PURPOSE_NOISE, c / 4u))[c % 4u];
        let b = x1[(model * B + j) * D + c];
        var x = 0.0;
        var v = 0.0;
        if (METHOD == 1u) {
            sigma_t = 1.0 - (1.0 - sigma) * t;
            x = t * b + sigma_t * eps;
            v = (b - (1.0 - sigma) * x) / sigma_t;
        } else if (METHOD == 2u) {
            let a = x0[(model * B + i) * D + c];
            sigma_t = sigma * sqrt(t * (1.0 - t));
            let noise = sigma_t * eps;
            x = t * b + (1.0 - t) * a + noise;
            v = (1.0 - 2.0 * t) / (2.0 * t * (1.0 - t) + 1e-8) * noise + b - a;
        } else {
            let a = x0[(model * B + i) * D + c];
            x = t * b + (1.0 - t) * a + sigma * eps;
            v = b - a;
        }
        tape[at + first + c] = x;
        targets[r * D + c] = select(v, -eps, score);
    }
    weights[r] = select(1.0, 2.0 * sigma_t / (sigma * sigma + 1e-8), score);
    if (TIME == 0u) {
        tape[at + D] = t;
    }
    if (TIME == 1u) {
        tape[at] = t;
    }
}
