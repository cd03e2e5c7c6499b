//! The trainer in f64 on the CPU, written in the shape of its kernels: the draws of a
//! batch (`draw.wgsl`, `path.wgsl`), the forward pass along the tape (`forward.wgsl`),
//! the loss and its backward pass (`loss.wgsl`, `backward.wgsl`, `grad.wgsl`) and Adam
//! (`adam.wgsl`). The GPU results are checked against it.

use crate::flow::model::TimeInput;

use super::config::{Method, Sampler, TrainConfig};
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

/// A batch ready for the network: its input rows and regression targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// B × input-width rows.
    pub inputs: Vec<f64>,
    /// B × d targets u_t.
    pub targets: Vec<f64>,
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
    let key = crate::rng::seed_key(seed);
    let d = layout.dim;
    let times: Vec<f64> = (0..pairs.len() as u32)
        .map(|k| f64::from(crate::rng::uniform4(key, [k, step, Purpose::Time as u32, 0])[0]))
        .collect();
    let noise: Vec<f64> = (0..pairs.len() as u32)
        .flat_map(|k| {
            (0..d).map(move |c| {
                crate::rng::normal4(key, [k, step, Purpose::Noise as u32, (c / 4) as u32])[c % 4]
            })
        })
        .collect();
    regression_with(config, layout, ends, pairs, &times, &noise)
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
                Method::Icfm | Method::Otcfm => {
                    let x0 = ends.x0[i * d + c];
                    *xc = t * x1 + (1.0 - t) * x0 + sigma * eps(c);
                    targets.push(x1 - x0);
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
    Regression { inputs, targets }
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

/// The loss (mean over rows and dimensions of (v − u)²) and its gradient in the
/// parameters, by backpropagation along the tapes (`loss.wgsl`, `backward.wgsl`,
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
        for c in 0..d {
            let diff = tape[out + c] - batch.targets[r * d + c];
            loss += diff * diff;
            back[out + c] = scale * diff;
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
