//! The CPU f64 twin of `shaders/flow/sde.wgsl`: the same schemes, the same Philox
//! Gaussians and the same schedule, one particle of one branch at a time.

use crate::error::Result;
use crate::flow::eval::{eval, eval_with_tangent};
use crate::flow::inputs::{population_cond, validate_particles};
use crate::flow::sde::config::{Branch, Growth, SdeConfig, SdeResult, SdeSolver};
use crate::flow::sde::weights::{branch_stats, maybe_resample, weight_value, Layout};

/// The counter tag of the Brownian increments (shared with the kernel).
pub(crate) const NOISE_TAG: u32 = 0x5344_4531;

/// The Gaussians of one step of particle `p` (global index) in branch `b`: ξ1 and ξ2
/// per component.
pub fn step_normals(seed: u64, p: usize, step: usize, b: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let key = crate::rng::seed_key(seed);
    let (mut xi1, mut xi2) = (vec![0.0; d], vec![0.0; d]);
    for c in (0..d).step_by(2) {
        let z = crate::rng::normal4(
            key,
            [
                p as u32,
                step as u32,
                ((b as u32) << 16) | (c as u32 >> 1),
                NOISE_TAG,
            ],
        );
        xi1[c] = z[0];
        xi2[c] = z[1];
        if c + 1 < d {
            xi1[c + 1] = z[2];
            xi2[c + 1] = z[3];
        }
    }
    (xi1, xi2)
}

/// The Brownian quantities of a step of length |h| from the step's Gaussians:
/// ΔW = √|h| ξ1 and I₁₀/|h| = √|h| (ξ1 + ξ2/√3)/2 per component.
pub fn increments(h: f64, xi1: &[f64], xi2: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let root = h.abs().sqrt();
    let dw = xi1.iter().map(|x| root * x).collect();
    let chi = xi1
        .iter()
        .zip(xi2)
        .map(|(a, b)| 0.5 * root * (a + b / 3f64.sqrt()))
        .collect();
    (dw, chi)
}

/// Drift a = v + sign(h) s and growth rate g of `branch` at (x, t).
fn drift(branch: &Branch, x: &[f64], t: f64, c: &[f64], dir: f64) -> (Vec<f64>, f64) {
    let mut a = eval(&branch.velocity, x, t, c);
    if let Some(score) = &branch.score {
        for (ai, si) in a.iter_mut().zip(eval(score, x, t, c)) {
            *ai += dir * si;
        }
    }
    let g = branch
        .growth
        .as_ref()
        .map_or(0.0, |g| eval_with_tangent(g, x, t, c, None).0[0]);
    (a, g)
}

/// One step of length h from (t, y) (y = `[x, weight]` or `[x]`) driven by the increments
/// ΔW and I₁₀/|h| (`chi`), as the kernel takes it. `weighted`: y carries a weight.
#[allow(clippy::too_many_arguments)]
pub fn step(
    branch: &Branch,
    cond: &[f64],
    config: &SdeConfig,
    weighted: bool,
    y: &mut [f64],
    (t, h): (f64, f64),
    dw: &[f64],
    chi: &[f64],
) {
    let d = branch.velocity.dim;
    let dir = h.signum();
    let (a1, g1) = drift(branch, &y[..d], t, cond, dir);
    let sigma = |t: f64| config.diffusion.at(t);
    match config.solver {
        SdeSolver::EulerMaruyama => {
            let s0 = sigma(t);
            for c in 0..d {
                y[c] += h * a1[c] + s0 * dw[c];
            }
            if weighted {
                y[d] += h * g1;
            }
        }
        SdeSolver::Sra1 => {
            let (s_start, s_end) = (sigma(t), sigma(t + h));
            let stage: Vec<f64> = (0..d)
                .map(|c| y[c] + 0.75 * h * a1[c] + 1.5 * s_end * chi[c])
                .collect();
            let (a2, g2) = drift(branch, &stage, t + 0.75 * h, cond, dir);
            for c in 0..d {
                y[c] += h * (a1[c] / 3.0 + 2.0 * a2[c] / 3.0)
                    + s_end * (dw[c] - chi[c])
                    + s_start * chi[c];
            }
            if weighted {
                y[d] += h * (g1 / 3.0 + 2.0 * g2 / 3.0);
            }
        }
    }
}

/// The initial state array (branches × n × aug).
pub(crate) fn initial_state(
    branches: usize,
    particles: &[f32],
    d: usize,
    weighted: bool,
    config: &SdeConfig,
) -> Vec<f64> {
    let n = particles.len() / d;
    let aug = d + usize::from(weighted);
    let mut state = vec![0.0; branches * n * aug];
    for b in 0..branches {
        let w0 = config.initial_weight(b, branches);
        let stored = match config.growth {
            Growth::LogWeight => w0.ln(),
            Growth::Additive => w0,
        };
        for p in 0..n {
            let at = (b * n + p) * aug;
            for c in 0..d {
                state[at + c] = f64::from(particles[p * d + c]);
            }
            if weighted {
                state[at + d] = stored;
            }
        }
    }
    state
}

/// Simulates on the CPU in f64. Arguments as [`crate::flow::sde::simulate`].
pub fn simulate_cpu(
    branches: &[Branch],
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
    config: &SdeConfig,
) -> Result<SdeResult> {
    config.validate(branches)?;
    let field = &branches[0].velocity;
    validate_particles(field, particles, cond, population)?;
    let d = field.dim;
    let n = particles.len() / d;
    let k = branches.len();
    let weighted = config.weighted(branches);
    let aug = d + usize::from(weighted);
    let cond: Vec<f64> = cond.iter().map(|&v| f64::from(v)).collect();
    let mut state = initial_state(k, particles, d, weighted, config);
    let segments = config.schedule();
    let mut saved = vec![0.0; segments.len() * k * n * aug];
    let mut resampled = Vec::new();
    let layout = Layout { n, aug, d };
    for seg in &segments {
        for (b, branch) in branches.iter().enumerate() {
            for p in 0..n {
                let c = population_cond(&cond, population, field.cond_dim, p);
                let y = &mut state[(b * n + p) * aug..(b * n + p + 1) * aug];
                for s in 0..seg.steps {
                    let index = config.particle_offset + p;
                    let (xi1, xi2) = step_normals(config.seed, index, seg.first_step + s, b, d);
                    let (dw, chi) = increments(seg.h, &xi1, &xi2);
                    step(
                        branch,
                        c,
                        config,
                        weighted,
                        y,
                        (seg.time(s), seg.h),
                        &dw,
                        &chi,
                    );
                }
            }
        }
        let at = seg.save * k * n * aug;
        saved[at..at + k * n * aug].copy_from_slice(&state);
        if let (Some(fraction), true) = (config.resample_below, weighted) {
            for b in 0..k {
                let how = (config.growth, fraction, config.seed, seg.save);
                if maybe_resample(&mut state, layout, b, how, |v| v) {
                    resampled.push((seg.save, b));
                }
            }
        }
    }
    let steps = segments.iter().map(|s| s.steps).sum::<usize>();
    Ok(assemble(
        &saved,
        (config, branches.len(), layout, weighted),
        resampled,
        steps,
    ))
}

/// The result from saved states (saves × branches × n × aug).
pub(crate) fn assemble<T: Copy + Into<f64>>(
    saved: &[T],
    (config, k, layout, weighted): (&SdeConfig, usize, Layout, bool),
    resampled: Vec<(usize, usize)>,
    steps: usize,
) -> SdeResult {
    let Layout { n, aug, d } = layout;
    let times = config.save_times();
    let mut states = vec![0.0f32; times.len() * k * n * d];
    let mut weights = vec![0.0f32; times.len() * k * n];
    let (mut mass, mut ess) = (Vec::new(), Vec::new());
    for s in 0..times.len() {
        let block = &saved[s * k * n * aug..(s + 1) * k * n * aug];
        for i in 0..k * n {
            for c in 0..d {
                states[(s * k * n + i) * d + c] = block[i * aug + c].into() as f32;
            }
            if weighted {
                weights[s * k * n + i] =
                    weight_value(block[i * aug + d].into(), config.growth) as f32;
            }
        }
        for b in 0..k {
            let (m, e) = if weighted {
                branch_stats(block, layout, b, config.growth)
            } else {
                (n as f64, n as f64)
            };
            mass.push(m);
            ess.push(e);
        }
    }
    SdeResult {
        times,
        particles: n,
        branches: k,
        dim: d,
        states,
        weights: weighted.then_some(weights),
        mass,
        ess,
        resampled,
        steps,
        evaluations: steps * config.solver.stages(),
    }
}
