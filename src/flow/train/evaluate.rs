//! How good a trained field is: held-out source points pushed through it by Dopri5 (or,
//! with a score network, by the SDE dx = (v + s) dt + σ dW), and the squared
//! 2-Wasserstein distance of the endpoints to held-out target points by exact matching on
//! the GPU.

use crate::error::{Error, Result};
use crate::flow::sde::{simulate, Branch, Diffusion, SdeConfig, SdeSolver};
use crate::flow::{FlowConfig, FlowResult, Solver};
use crate::gpu::GpuContext;

use super::assign::{w2_squared_gpu, MAX_BATCH};
use super::config::{Method, Sampler};
use super::gpu::Trainer;
use super::reference;

/// A trained model's samples and their distance to the target.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Squared W2 between the samples at t = 1 and as many held-out target points.
    pub w2_squared: f64,
    /// The field's evaluations per particle in the adaptive solve.
    pub evaluations_per_particle: f64,
    /// The trajectories (states saved at 21 evenly spaced times).
    pub flow: FlowResult,
}

/// Integrates model `m` of `trainer` from `n` held-out source points (≤ 1024) with
/// Dopri5 at rtol = atol = 1e-5 and measures the squared W2 of the endpoints to `n`
/// held-out target points. Held-out draws use a seed derived from the run's and a step
/// no training run reaches.
pub fn evaluate(ctx: &GpuContext, trainer: &Trainer, m: usize, n: usize) -> Result<Evaluation> {
    if !(2..=MAX_BATCH).contains(&n) {
        return Err(Error::invalid(format!(
            "evaluate with 2 to {MAX_BATCH} samples; got {n}"
        )));
    }
    let field = trainer.field(m)?;
    let (x0, x1) = held_out(trainer, m, n, field.dim);
    let flow_config = FlowConfig::default()
        .solver(Solver::Dopri5)
        .tolerances(1e-5, 1e-5)
        .save_at(&(0..=20).map(|k| f64::from(k) / 20.0).collect::<Vec<_>>());
    let flow = crate::flow::integrate(ctx, &field, &x0, &[], &flow_config)?;
    let last = flow.times.len() - 1;
    let end: Vec<f32> = (0..flow.particles)
        .flat_map(|p| flow.state(last, p).to_vec())
        .collect();
    let w2_squared = w2_squared_gpu(ctx, &end, &x1, flow.dim)?;
    let evaluations_per_particle =
        flow.evaluations.iter().map(|&e| f64::from(e)).sum::<f64>() / flow.particles as f64;
    Ok(Evaluation {
        w2_squared,
        evaluations_per_particle,
        flow,
    })
}

/// `n` held-out source and target points for model `m`: a seed derived from the run's and
/// the model's.
fn held_out(trainer: &Trainer, m: usize, n: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
    let config = trainer.config();
    let (source, target) = trainer.sampler_pair();
    let seed = (config.seed + m as u64) ^ 0x5eed_0fe7_a1a1;
    let x0 = match config.method {
        Method::Fm => reference::sample(&Sampler::Normal { dim }, n, seed),
        _ => reference::sample(source, n, seed),
    };
    (x0, reference::sample(target, n, seed.wrapping_add(1)))
}

/// Samples of model `m`'s SDE (SF2M: drift v + s from the flow and its score network,
/// diffusion σ, SRA1 in `steps` steps) from `n` held-out source points (≤ 1024), and
/// the squared W2 of the endpoints to `n` held-out target points.
pub fn evaluate_sde(
    ctx: &GpuContext,
    trainer: &Trainer,
    m: usize,
    n: usize,
    steps: usize,
) -> Result<f64> {
    if !(2..=MAX_BATCH).contains(&n) {
        return Err(Error::invalid(format!(
            "evaluate with 2 to {MAX_BATCH} samples; got {n}"
        )));
    }
    let branch = Branch::new(trainer.field(m)?).score(trainer.score_field(m)?);
    let dim = branch.velocity.dim;
    let (x0, x1) = held_out(trainer, m, n, dim);
    let config = SdeConfig::default()
        .solver(SdeSolver::Sra1)
        .diffusion(Diffusion::Constant(trainer.config().sigma_of(m)))
        .steps(steps)
        .seed(trainer.config().seed ^ 0x5de5_eed5);
    let out = simulate(ctx, &[branch], &x0, &[], &[], &config)?;
    let last = out.times.len() - 1;
    let end: Vec<f32> = (0..out.particles)
        .flat_map(|p| out.state(last, 0, p).to_vec())
        .collect();
    w2_squared_gpu(ctx, &end, &x1, dim)
}
