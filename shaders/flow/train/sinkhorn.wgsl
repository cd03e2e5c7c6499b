// Entropic (SB-CFM) or unbalanced (UOT-FM) minibatch pairing, one workgroup per model:
// log-domain Sinkhorn between the batch's uniform source and target points with squared
// Euclidean costs (divided by their mean when NORMALIZE), epsilon annealed from the
// largest cost down to EPS by halving every ANNEAL iterations, ITERS iterations in all;
// then B pairs drawn from the normalised plan with replacement (a row by its mass, then a
// column within the row), as TorchCFM and UOT-FM draw them. Unbalanced updates scale the
// potentials by tau = rho / (rho + eps), rho = eps tau / (1 - tau) at the final eps.
// Writes pairs[(model B + k) 2 + {0, 1}] and status[model] = the plan's row-marginal L1
// error. Twin: flow::train::reference::{sinkhorn, plan_pairs}.

override WG: u32 = 64u;
override B: u32 = 256u;
override D: u32 = 2u;
override EPS: f32 = 0.01;
// rho = EPS TAU / (1 - TAU), from the host (0 when balanced).
override RHO: f32 = 0.0;
override BALANCED: bool = true;
override ITERS: u32 = 200u;
override ANNEAL: u32 = 4u;
override NORMALIZE: bool = false;

#import flow/train/draws
#import flow/train/step_block

const MAX_B: u32 = 1024u;
const MAX_WG: u32 = 256u;
const LOWEST: f32 = -3.0e38;

#import flow/train/pair_cost

@group(0) @binding(0) var<uniform> step: StepBlock;
@group(0) @binding(1) var<storage, read> seeds: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> x0: array<f32>;
@group(0) @binding(3) var<storage, read> x1: array<f32>;
// Per model: the B x B (scaled) costs, computed once per solve, and their transpose (so
// that neighbouring invocations read neighbouring entries in both half-iterations).
@group(0) @binding(4) var<storage, read_write> costs: array<f32>;
@group(0) @binding(5) var<storage, read_write> pairs: array<u32>;
@group(0) @binding(6) var<storage, read_write> status: array<f32>;

// The potentials: f at 0..B, g at G..G + B.
const G: u32 = MAX_B;
var<workgroup> potentials: array<f32, 2 * MAX_B>;
var<workgroup> mass: array<f32, MAX_B>;
var<workgroup> partial: array<f32, MAX_WG>;


// Sum (SUM) or max of every invocation's value, returned to all.
fn workgroup_reduce(lid: u32, value: f32, sum: bool) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            let other = partial[lid + half];
            partial[lid] = select(max(partial[lid], other), partial[lid] + other, sum);
        }
        workgroupBarrier();
    }
    let out = workgroupUniformLoad(&partial[0]);
    // Nobody writes `partial` again before everyone has read it.
    workgroupBarrier();
    return out;
}

// A potential's update at index k, one half-iteration: -tau eps (log w + LSE over l of
// (other_l - C) / eps), with the other potential at `other` and the costs C read at
// `block` + l B + k (the costs for g, their transpose for f, so neighbouring invocations
// read neighbouring entries). Two passes (the largest term, then the sum of
// exponentials): one exp per entry and no divergent branch.
fn soft_update(other: u32, block: u32, k: u32, eps: f32, tau: f32, log_w: f32) -> f32 {
    var m = LOWEST;
    for (var l = 0u; l < B; l = l + 1u) {
        m = max(m, potentials[other + l] - costs[block + l * B + k]);
    }
    var sum = 0.0;
    for (var l = 0u; l < B; l = l + 1u) {
        sum = sum + exp((potentials[other + l] - costs[block + l * B + k] - m) / eps);
    }
    return -tau * (eps * log_w + m + eps * log(sum));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let model = wid.x;
    var local_sum = 0.0;
    var local_max = 0.0;
    for (var p = lid; p < B * B; p = p + WG) {
        let c = pair_cost(model, p / B, p % B);
        local_sum = local_sum + c;
        local_max = max(local_max, c);
    }
    let total = workgroup_reduce(lid, local_sum, true);
    let c_max_raw = workgroup_reduce(lid, local_max, false);
    let scale = select(1.0, f32(B * B) / max(total, 1e-30), NORMALIZE);
    let c_max = max(c_max_raw * scale, EPS);
    let base = model * B * B * 2u;
    let transposed = base + B * B;
    for (var p = lid; p < B * B; p = p + WG) {
        let c = pair_cost(model, p / B, p % B) * scale;
        costs[base + p] = c;
        costs[transposed + (p % B) * B + p / B] = c;
    }
    storageBarrier();
    let log_w = -log(f32(B));
    for (var i = lid; i < B; i = i + WG) {
        potentials[i] = 0.0;
        potentials[G + i] = 0.0;
    }
    workgroupBarrier();
    for (var n = 0u; n < ITERS; n = n + 1u) {
        let eps = max(EPS, c_max * exp2(-f32(n / ANNEAL)));
        let tau = select(RHO / (RHO + eps), 1.0, BALANCED);
        for (var i = lid; i < B; i = i + WG) {
            potentials[i] = soft_update(G, transposed, i, eps, tau, log_w);
        }
        workgroupBarrier();
        for (var j = lid; j < B; j = j + WG) {
            potentials[G + j] = soft_update(0u, base, j, eps, tau, log_w);
        }
        workgroupBarrier();
    }
    // Row masses of the plan pi_ij = a_i b_j exp((f_i + g_j - C_ij) / EPS).
    var error = 0.0;
    for (var i = lid; i < B; i = i + WG) {
        var r = 0.0;
        for (var j = 0u; j < B; j = j + 1u) {
            r = r + exp(2.0 * log_w + (potentials[i] + potentials[G + j] - costs[base + i * B + j]) / EPS);
        }
        mass[i] = r;
        error = error + abs(r - exp(log_w));
    }
    let l1 = workgroup_reduce(lid, error, true);
    if (lid == 0u) {
        status[model] = l1;
        // Cumulative masses, in order.
        for (var i = 1u; i < B; i = i + 1u) {
            mass[i] = mass[i] + mass[i - 1u];
        }
    }
    workgroupBarrier();
    let key = seeds[model];
    for (var k = lid; k < B; k = k + WG) {
        let u = rng_uniform4(key, vec4<u32>(k, step.step, PURPOSE_PAIR, 0u));
        // The row: the first whose cumulative mass exceeds u1 of the whole.
        let target_mass = u.x * mass[B - 1u];
        var lo = 0u;
        var hi = B - 1u;
        while (lo < hi) {
            let mid = (lo + hi) / 2u;
            if (mass[mid] > target_mass) {
                hi = mid;
            } else {
                lo = mid + 1u;
            }
        }
        let i = lo;
        let row_mass = mass[i] - select(0.0, mass[i - 1u], i > 0u);
        // The column: the first whose cumulative mass within the row exceeds u2 of it.
        let within = u.y * row_mass;
        var acc = 0.0;
        var j = B - 1u;
        for (var c = 0u; c < B; c = c + 1u) {
            acc = acc + exp(2.0 * log_w + (potentials[i] + potentials[G + c] - costs[base + i * B + c]) / EPS);
            if (acc > within) {
                j = c;
                break;
            }
        }
        pairs[(model * B + k) * 2u] = i;
        pairs[(model * B + k) * 2u + 1u] = j;
    }
}
