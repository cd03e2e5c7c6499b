//! The debiased Sinkhorn divergence, and chains of problems over snapshots.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::transport::config::{Epsilon, Marginal, SinkhornConfig};
use crate::transport::coupling::{Coupling, Gradients};
use crate::transport::problem::{Cost, PointCloud, Problem};
use crate::transport::reference::{cost_stats_cpu, solve_cpu};
use crate::transport::schedule::CostStats;
use crate::transport::solution::Solution;
use crate::transport::solver::cost_stats;

/// S(a, b) = OT(a, b) − ½ OT(a, a) − ½ OT(b, b) + ε/2 (m(a) − m(b))², with the three
/// problems it is made of.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// The divergence (≥ 0, zero when the measures coincide).
    pub value: f64,
    /// The cross problem.
    pub ot_xy: Solution,
    /// The source with itself.
    pub ot_xx: Solution,
    /// The target with itself.
    pub ot_yy: Solution,
}

/// The config every one of the three problems uses: ε and ρ made absolute from the
/// cross problem, so the debiasing terms are computed at the same ε and ρ.
fn common_config(config: &SinkhornConfig, stats: CostStats) -> SinkhornConfig {
    let eps = match config.epsilon {
        Epsilon::Absolute(e) => f64::from(e),
        Epsilon::RelativeMean(k) => f64::from(k) * stats.mean,
        Epsilon::RelativeStd(k) => f64::from(k) * stats.std,
    };
    let absolute = |m: Marginal| {
        let inv_rho = m.inv_rho(eps);
        if inv_rho == 0.0 {
            Marginal::Hard
        } else {
            Marginal::Rho((1.0 / inv_rho) as f32)
        }
    };
    let mut common = config.clone().eps(eps as f32);
    common.marginal_a = absolute(config.marginal_a);
    common.marginal_b = absolute(config.marginal_b);
    common
}

fn assemble(
    xy: Solution,
    xx: Solution,
    yy: Solution,
    source: &PointCloud,
    target: &PointCloud,
) -> Divergence {
    let mass = |c: &PointCloud| c.weights().iter().map(|&w| f64::from(w)).sum::<f64>();
    let gap = mass(source) - mass(target);
    let value =
        xy.reg_ot_cost - 0.5 * (xx.reg_ot_cost + yy.reg_ot_cost) + 0.5 * xy.epsilon * gap * gap;
    Divergence {
        value,
        ot_xy: xy,
        ot_xx: xx,
        ot_yy: yy,
    }
}

/// The Sinkhorn divergence between two weighted clouds on the GPU (balanced or
/// unbalanced; a relative ε is resolved on the cross problem).
pub fn sinkhorn_divergence(
    ctx: &GpuContext,
    source: &PointCloud,
    target: &PointCloud,
    cost: Cost,
    config: &SinkhornConfig,
) -> Result<Divergence> {
    config.validate()?;
    let xy = Problem::with_cost(source.clone(), target.clone(), cost)?;
    let stats = cost_stats(ctx, &[&xy])?[0];
    let common = common_config(config, stats);
    let solve = |p: &Problem| crate::transport::solve(ctx, p, &common);
    let (ot_xy, ot_xx, ot_yy) = (
        solve(&xy)?,
        solve(&Problem::with_cost(source.clone(), source.clone(), cost)?)?,
        solve(&Problem::with_cost(target.clone(), target.clone(), cost)?)?,
    );
    Ok(assemble(ot_xy, ot_xx, ot_yy, source, target))
}

/// [`sinkhorn_divergence`] and its gradients with respect to both clouds (squared
/// Euclidean cost): ∂S/∂x = ∂OT(x, y)/∂x − ½ ∂OT(x, x)/∂x, where x enters OT(x, x) on both
/// sides, and likewise for y; each term from the converged potentials (Danskin), so S
/// serves as a training loss.
pub fn sinkhorn_divergence_grad(
    ctx: &GpuContext,
    source: &PointCloud,
    target: &PointCloud,
    cost: Cost,
    config: &SinkhornConfig,
) -> Result<(Divergence, Gradients)> {
    config.validate()?;
    let xy = Problem::with_cost(source.clone(), target.clone(), cost)?;
    let stats = cost_stats(ctx, &[&xy])?[0];
    let common = common_config(config, stats);
    let couple = |p: &Problem| Coupling::solve(ctx, p, &common);
    let (c_xy, c_xx, c_yy) = (
        couple(&xy)?,
        couple(&Problem::with_cost(source.clone(), source.clone(), cost)?)?,
        couple(&Problem::with_cost(target.clone(), target.clone(), cost)?)?,
    );
    let (g_xy, g_xx, g_yy) = (c_xy.gradients()?, c_xx.gradients()?, c_yy.gradients()?);
    let combine = |cross: &[f32], a: &[f32], b: &[f32]| -> Vec<f32> {
        cross
            .iter()
            .zip(a.iter().zip(b))
            .map(|(&c, (&a, &b))| c - 0.5 * (a + b))
            .collect()
    };
    let gradients = Gradients {
        source: combine(&g_xy.source, &g_xx.source, &g_xx.target),
        target: combine(&g_xy.target, &g_yy.source, &g_yy.target),
    };
    let divergence = assemble(
        c_xy.into_solution(),
        c_xx.into_solution(),
        c_yy.into_solution(),
        source,
        target,
    );
    Ok((divergence, gradients))
}

/// CPU f64 twin of [`sinkhorn_divergence`].
pub fn sinkhorn_divergence_cpu(
    source: &PointCloud,
    target: &PointCloud,
    cost: Cost,
    config: &SinkhornConfig,
) -> Result<Divergence> {
    config.validate()?;
    let xy = Problem::with_cost(source.clone(), target.clone(), cost)?;
    let common = common_config(config, cost_stats_cpu(&xy));
    let (ot_xy, ot_xx, ot_yy) = (
        solve_cpu(&xy, &common)?,
        solve_cpu(
            &Problem::with_cost(source.clone(), source.clone(), cost)?,
            &common,
        )?,
        solve_cpu(
            &Problem::with_cost(target.clone(), target.clone(), cost)?,
            &common,
        )?,
    );
    Ok(assemble(ot_xy, ot_xx, ot_yy, source, target))
}

/// Solves the problems between consecutive snapshots t0 → t1 → … → tK. When all pairs
/// have the same shape they run as one batch (one dispatch chain); otherwise one after
/// another, reusing the pooled buffers and compiled kernels.
pub fn solve_chain(
    ctx: &GpuContext,
    snapshots: &[PointCloud],
    cost: Cost,
    config: &SinkhornConfig,
) -> Result<Vec<Solution>> {
    if snapshots.len() < 2 {
        return Err(Error::invalid(format!(
            "a chain needs at least two snapshots, got {}",
            snapshots.len()
        )));
    }
    let problems = snapshots
        .windows(2)
        .map(|w| Problem::with_cost(w[0].clone(), w[1].clone(), cost))
        .collect::<Result<Vec<_>>>()?;
    let same_shape = problems
        .iter()
        .all(|p| p.n() == problems[0].n() && p.m() == problems[0].m());
    if same_shape {
        return crate::transport::solve_batch(ctx, &problems, config);
    }
    problems
        .iter()
        .map(|p| crate::transport::solve(ctx, p, config))
        .collect()
}
