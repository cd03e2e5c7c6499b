//! The trainer in f64 on the CPU, written in the shape of its kernels: the draws of a
//! batch (`draw.wgsl`, `path.wgsl`), the forward pass along the tape (`forward.wgsl`),
//! the loss and its backward pass (`loss.wgsl`, `backward.wgsl`, `grad.wgsl`) and Adam
//! (`adam.wgsl`). The GPU results are checked against it.

use crate::flow::model::TimeInput;

use super::config::{EntropicPairing, Method, Sampler, TrainConfig};
use super::layout::Layout;
use super::shared::{self as draws, Purpose};

/// One model's batch before pairing: B source and B target points (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoints {
    /// Source points x0.
    pub x0: Vec<f64>,
    /// Target points x1.
    pub x1: Vec<f64>,
}

fn sampler_point(
    sampler: &Sampler,
    key: [u32; 2],
    row: u32,
    step: u32,
    purpose: Purpose,
    batch: usize,
) -> Vec<f64> {
    let counter = |block: u32| [row, step, purpose as u32, block];
    match sampler {
        Sampler::EightGaussians => {
            let u = crate::rng::uniform4(key, counter(0))[0];
            let z = crate::rng::normal4(key, counter(1));
            let (cx, cy) = draws::eight_gaussians_centre(u);
            let spread = draws::EIGHT_GAUSSIANS_STD;
            vec![cx + spread * z[0], cy + spread * z[1]]
        }
        Sampler::Moons => {
            let u = crate::rng::uniform4(key, counter(0))[0];
            let (x, y) = draws::moons_point(row as usize, batch, f64::from(u));
            vec![x, y]
        }
        Sampler::Checkerboard => {
            let u = crate::rng::uniform4(key, counter(0)).map(f64::from);
            let a = 4.0 * u[0] - 2.0;
            let parity = a.floor().rem_euclid(2.0);
            let b = u[1] - if u[2] >= 0.5 { 2.0 } else { 0.0 } + parity;
            vec![2.0 * a, 2.0 * b]
        }
        Sampler::Normal { dim } => (0..*dim)
            .map(|j| crate::rng::normal4(key, counter((j / 4) as u32))[j % 4])
            .collect(),
        Sampler::Points { points, dim } => {
            let word = crate::rng::philox4x32_10(counter(0), key)[0];
            let r = draws::index_below(word, points.len() / dim);
            points[r * dim..(r + 1) * dim]
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        }
    }
}

/// `n` points of `sampler` under `seed` drawn as one batch of n at a step no training
/// run reaches (u32::MAX): held out from every training batch of that seed.
pub fn sample(sampler: &Sampler, n: usize, seed: u64) -> Vec<f32> {
    let key = crate::rng::seed_key(seed);
    (0..n as u32)
        .flat_map(|s| sampler_point(sampler, key, s, u32::MAX, Purpose::Target, n))
        .map(|v| v as f32)
        .collect()
}

/// The source and target points of `step` for the model seeded `seed` (`draw.wgsl`).
pub fn draw_endpoints(
    config: &TrainConfig,
    source: &Sampler,
    target: &Sampler,
    seed: u64,
    step: u32,
) -> Endpoints {
    let key = crate::rng::seed_key(seed);
    let b = config.batch;
    let mut x0 = Vec::new();
    let mut x1 = Vec::new();
    for s in 0..b as u32 {
        if config.method != Method::Fm {
            x0.extend(sampler_point(source, key, s, step, Purpose::Source, b));
        }
        x1.extend(sampler_point(target, key, s, step, Purpose::Target, b));
    }
    Endpoints { x0, x1 }
}

/// The (source row, target row) of each batch row: itself for the independent coupling;
/// for an exact coupling `matched[i]` (the target row of source row i), a row i drawn
/// uniformly with replacement for each batch row, as a sample of B pairs from the
/// permutation plan (`path.wgsl`).
pub fn pairs(seed: u64, step: u32, matched: Option<&[u32]>, batch: usize) -> Vec<(usize, usize)> {
    let key = crate::rng::seed_key(seed);
    (0..batch)
        .map(|k| match matched {
            None => (k, k),
            Some(m) => {
                let word =
                    crate::rng::philox4x32_10([k as u32, step, Purpose::Pair as u32, 0], key)[0];
                let i = draws::index_below(word, batch);
                (i, m[i] as usize)
            }
        })
        .collect()
}

/// The entropic pairing's potentials (f, g) between a model's B source and B target
/// points (`sinkhorn.wgsl`: log-domain Sinkhorn, ε halving every `ANNEAL` iterations from
/// the largest cost down to the pairing's ε), and the factor applied to the costs.
pub fn sinkhorn(
    pairing: &EntropicPairing,
    ends: &Endpoints,
    d: usize,
) -> (Vec<f64>, Vec<f64>, f64) {
    let b = ends.x1.len() / d;
    let raw = |i: usize, j: usize| -> f64 {
        (0..d)
            .map(|k| (ends.x0[i * d + k] - ends.x1[j * d + k]).powi(2))
            .sum()
    };
    let (mut total, mut c_max) = (0.0f64, 0.0f64);
    for i in 0..b {
        for j in 0..b {
            total += raw(i, j);
            c_max = c_max.max(raw(i, j));
        }
    }
    let scale = if pairing.normalize {
        (b * b) as f64 / total.max(1e-30)
    } else {
        1.0
    };
    let cost = |i: usize, j: usize| raw(i, j) * scale;
    let c_max = (c_max * scale).max(pairing.eps);
    let log_w = -(b as f64).ln();
    let rho = if pairing.tau >= 1.0 {
        0.0
    } else {
        pairing.eps * pairing.tau / (1.0 - pairing.tau)
    };
    let (mut f, mut g) = (vec![0.0; b], vec![0.0; b]);
    let lse = |values: &mut dyn Iterator<Item = f64>| -> f64 {
        let v: Vec<f64> = values.collect();
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    for n in 0..pairing.iterations {
        let eps = pairing.eps.max(c_max * (-((n / ANNEAL) as f64)).exp2());
        let tau = if pairing.tau >= 1.0 {
            1.0
        } else {
            rho / (rho + eps)
        };
        for (i, fi) in f.iter_mut().enumerate() {
            *fi = -tau
                * eps
                * (log_w + lse(&mut g.iter().enumerate().map(|(j, gj)| (gj - cost(i, j)) / eps)));
        }
        for (j, gj) in g.iter_mut().enumerate() {
            *gj = -tau
                * eps
                * (log_w + lse(&mut f.iter().enumerate().map(|(i, fi)| (fi - cost(i, j)) / eps)));
        }
    }
    (f, g, scale)
}

/// Iterations per halving of ε in the entropic pairing (`ANNEAL` in `sinkhorn.wgsl`).
pub const ANNEAL: usize = 4;

/// B (source row, target row) pairs drawn with replacement from the normalised plan
/// π_ij ∝ exp((f_i + g_j − C_ij) / ε): a row by its mass, then a column within it, from
/// the same uniforms as `sinkhorn.wgsl`.
pub fn plan_pairs(
    pairing: &EntropicPairing,
    ends: &Endpoints,
    d: usize,
    potentials: &(Vec<f64>, Vec<f64>, f64),
    seed: u64,
    step: u32,
) -> Vec<(usize, usize)> {
    let (f, g, scale) = potentials;
    let b = f.len();
    let key = crate::rng::seed_key(seed);
    let log_w = -(b as f64).ln();
    let entry = |i: usize, j: usize| {
        let c: f64 = (0..d)
            .map(|k| (ends.x0[i * d + k] - ends.x1[j * d + k]).powi(2))
            .sum();
        (2.0 * log_w + (f[i] + g[j] - c * scale) / pairing.eps).exp()
    };
    let mut cumulative = Vec::with_capacity(b);
    let mut acc = 0.0;
    for i in 0..b {
        acc += (0..b).map(|j| entry(i, j)).sum::<f64>();
        cumulative.push(acc);
    }
    (0..b as u32)
        .map(|k| {
            let u = crate::rng::uniform4(key, [k, step, Purpose::Pair as u32, 0]);
            let target = f64::from(u[0]) * acc;
            let i = cumulative.partition_point(|&m| m <= target).min(b - 1);
            let row = cumulative[i] - if i > 0 { cumulative[i - 1] } else { 0.0 };
            let within = f64::from(u[1]) * row;
            let mut sum = 0.0;
            let mut j = b - 1;
            for c in 0..b {
                sum += entry(i, c);
                if sum > within {
                    j = c;
                    break;
                }
            }
            (i, j)
        })
        .collect()
}

/// A batch ready for the network: its input rows, regression targets and the factor each
/// row's output is scaled by before it meets its target (1 for a flow, λ(t) for a score).
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// B × input-width rows.
    pub inputs: Vec<f64>,
    /// B × d targets: u_t for a flow, −ε for a score.
    pub targets: Vec<f64>,
    /// B factors a: the loss is mean((a v − target)²).
    pub weights: Vec<f64>,
}

/// The times (one per row) and noise (rows × d) drawn under `seed` for `step`
/// (`path.wgsl`).
pub fn path_draws(
    config: &TrainConfig,
    d: usize,
    rows: usize,
    seed: u64,
    step: u32,
) -> (Vec<f64>, Vec<f64>) {
    let key = crate::rng::seed_key(seed);
    let b = rows as f64;
    let times: Vec<f64> = (0..rows as u32)
        .map(|k| {
            let u = f64::from(crate::rng::uniform4(key, [k, step, Purpose::Time as u32, 0])[0]);
            if config.method.stratified_times() {
                (f64::from(k) + u) / b
            } else {
                u
            }
        })
        .collect();
    let noise: Vec<f64> = (0..rows as u32)
        .flat_map(|k| {
            (0..d).map(move |c| {
                crate::rng::normal4(key, [k, step, Purpose::Noise as u32, (c / 4) as u32])[c % 4]
            })
        })
        .collect();
    (times, noise)
}

/// x_t, t and u_t of every batch row (`path.wgsl`): t and the noise drawn under `seed`
/// for `step`.
pub fn regression(
    config: &TrainConfig,
    layout: &Layout,
    ends: &Endpoints,
    pairs: &[(usize, usize)],
    seed: u64,
    step: u32,
) -> Regression {
    let (times, noise) = path_draws(config, layout.dim, pairs.len(), seed, step);
    regression_with(config, layout, ends, pairs, &times, &noise)
}

/// σ_t of the method's path at time t.
pub fn sigma_t(config: &TrainConfig, t: f64) -> f64 {
    match config.method {
        Method::Icfm | Method::Otcfm | Method::Uotfm => config.sigma,
        Method::Sbcfm => config.sigma * (t * (1.0 - t)).sqrt(),
        Method::Fm => 1.0 - (1.0 - config.sigma) * t,
    }
}

/// The score network's batch beside a flow batch (SF2M): the same inputs, targets −ε and
/// factors λ(t) = 2 σ_t / (σ² + 1e-8), for the `times` and `noise` the flow batch was
/// built from.
pub fn score_regression(
    config: &TrainConfig,
    flow: &Regression,
    times: &[f64],
    noise: &[f64],
) -> Regression {
    let denominator = config.sigma * config.sigma + 1e-8;
    Regression {
        inputs: flow.inputs.clone(),
        targets: noise.iter().map(|e| -e).collect(),
        weights: times
            .iter()
            .map(|&t| 2.0 * sigma_t(config, t) / denominator)
            .collect(),
    }
}

/// x_t and u_t of every batch row for given times (one per row) and noise (rows × d), as
/// `torchcfm`'s `sample_location_and_conditional_flow` computes them.
pub fn regression_with(
    config: &TrainConfig,
    layout: &Layout,
    ends: &Endpoints,
    pairs: &[(usize, usize)],
    times: &[f64],
    noise: &[f64],
) -> Regression {
    let d = layout.dim;
    let sigma = config.sigma;
    let mut inputs = Vec::with_capacity(pairs.len() * layout.input_width());
    let mut targets = Vec::with_capacity(pairs.len() * d);
    for (k, &(i, j)) in pairs.iter().enumerate() {
        let t = times[k];
        let eps = |c: usize| noise[k * d + c];
        let mut x = vec![0.0; d];
        for (c, xc) in x.iter_mut().enumerate() {
            let x1 = ends.x1[j * d + c];
            match config.method {
                Method::Icfm | Method::Otcfm | Method::Uotfm => {
                    let x0 = ends.x0[i * d + c];
                    *xc = t * x1 + (1.0 - t) * x0 + sigma * eps(c);
                    targets.push(x1 - x0);
                }
                Method::Sbcfm => {
                    let x0 = ends.x0[i * d + c];
                    let noise = sigma * (t * (1.0 - t)).sqrt() * eps(c);
                    *xc = t * x1 + (1.0 - t) * x0 + noise;
                    targets.push((1.0 - 2.0 * t) / (2.0 * t * (1.0 - t) + 1e-8) * noise + x1 - x0);
                }
                Method::Fm => {
                    let sigma_t = 1.0 - (1.0 - sigma) * t;
                    *xc = t * x1 + sigma_t * eps(c);
                    targets.push((x1 - (1.0 - sigma) * *xc) / sigma_t);
                }
            }
        }
        if layout.time == TimeInput::First {
            inputs.push(t);
        }
        inputs.extend(&x);
        if layout.time == TimeInput::Last {
            inputs.push(t);
        }
    }
    let weights = vec![1.0; pairs.len()];
    Regression {
        inputs,
        targets,
        weights,
    }
}

/// The tape of one row: the input, then each layer's z and h (`forward.wgsl`).
pub fn forward(layout: &Layout, params: &[f64], input: &[f64]) -> Vec<f64> {
    let mut tape = vec![0.0; layout.tape];
    tape[..input.len()].copy_from_slice(input);
    for l in &layout.layers {
        for o in 0..l.outputs {
            let row = &params[l.params + o * l.inputs..l.params + (o + 1) * l.inputs];
            let z = params[l.params + l.outputs * l.inputs + o]
                + row
                    .iter()
                    .zip(&tape[l.input..l.input + l.inputs])
                    .map(|(w, h)| w * h)
                    .sum::<f64>();
            tape[l.z + o] = z;
            if let Some(h) = l.h {
                let skip = if l.residual { tape[l.input + o] } else { 0.0 };
                tape[h + o] = layout.activation.apply(z) + skip;
            }
        }
    }
    tape
}

/// The loss (mean over rows and dimensions of (a v − u)², a the row's weight) and its
/// gradient in the parameters, by backpropagation along the tapes (`loss.wgsl`, `backward.wgsl`,
/// `grad.wgsl`).
pub fn loss_and_gradient(layout: &Layout, params: &[f64], batch: &Regression) -> (f64, Vec<f64>) {
    let width = layout.input_width();
    let rows = batch.inputs.len() / width;
    let d = layout.dim;
    let scale = 2.0 / (rows * d) as f64;
    let mut loss = 0.0;
    let mut grad = vec![0.0; layout.params];
    let out = layout.output();
    for r in 0..rows {
        let tape = forward(layout, params, &batch.inputs[r * width..(r + 1) * width]);
        // The gradient tape: dL/dz at z's places, dL/dh at h's.
        let mut back = vec![0.0; layout.tape];
        let a = batch.weights[r];
        for c in 0..d {
            let diff = a * tape[out + c] - batch.targets[r * d + c];
            loss += diff * diff;
            back[out + c] = scale * a * diff;
        }
        for (n, l) in layout.layers.iter().enumerate().rev() {
            if let Some(h) = l.h {
                for o in 0..l.outputs {
                    back[l.z + o] = back[h + o] * layout.activation.derivative(tape[l.z + o]);
                }
            }
            let weights = l.outputs * l.inputs;
            for o in 0..l.outputs {
                let delta = back[l.z + o];
                for i in 0..l.inputs {
                    grad[l.params + o * l.inputs + i] += delta * tape[l.input + i];
                }
                grad[l.params + weights + o] += delta;
            }
            if n > 0 {
                for i in 0..l.inputs {
                    let mut g: f64 = (0..l.outputs)
                        .map(|o| params[l.params + o * l.inputs + i] * back[l.z + o])
                        .sum();
                    if l.residual {
                        g += back[l.h.unwrap_or(l.z) + i];
                    }
                    back[l.input + i] = g;
                }
            }
        }
    }
    (loss / (rows * d) as f64, grad)
}

/// Adam's (or AdamW's) state for one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// First moments.
    pub m: Vec<f64>,
    /// Second moments.
    pub v: Vec<f64>,
    /// Steps taken.
    pub step: u64,
}

impl Adam {
    /// Zero moments for `params` parameters.
    pub fn new(params: usize) -> Self {
        Self {
            m: vec![0.0; params],
            v: vec![0.0; params],
            step: 0,
        }
    }

    /// One step as PyTorch takes it (`adam.wgsl`).
    pub fn step(&mut self, config: &TrainConfig, params: &mut [f64], grad: &[f64]) {
        self.step += 1;
        let c = super::shared::AdamScalars::of(config, self.step);
        let (b1, b2) = config.betas;
        for k in 0..params.len() {
            params[k] *= c.decay;
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * grad[k];
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * grad[k] * grad[k];
            params[k] -= c.step_size * self.m[k]
                / (self.v[k].sqrt() * c.inverse_root_correction + config.adam_eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkerboard_points_fill_the_black_squares_evenly() {
        let points = sample(&Sampler::Checkerboard, 8000, 5);
        let mut counts = std::collections::HashMap::new();
        for p in points.chunks(2) {
            let (a, b) = (
                (f64::from(p[0]) / 2.0).floor(),
                (f64::from(p[1]) / 2.0).floor(),
            );
            assert!(
                (a - b).rem_euclid(2.0) == 0.0,
                "({}, {}) is in a white square",
                p[0],
                p[1]
            );
            assert!((-2.0..2.0).contains(&a) && (-2.0..2.0).contains(&b));
            *counts.entry((a as i32, b as i32)).or_insert(0) += 1;
        }
        // Eight squares of 1000 expected points each: within 5 standard deviations.
        assert_eq!(counts.len(), 8);
        assert!(
            counts
                .values()
                .all(|&c| (c as f64 - 1000.0).abs() < 5.0 * 1000f64.sqrt()),
            "{counts:?}"
        );
    }
}
