//! Entropic optimal transport by log-domain Sinkhorn on the GPU.
//!
//! Costs between point clouds are computed on the fly inside the kernels, so problems of
//! any size run without an n × m matrix; in high dimension, where a cost is d
//! multiply-adds, a matrix that fits a memory budget is computed once and streamed
//! instead ([`CostStorage`]). Balanced, unbalanced and semi-relaxed problems,
//! two entropic conventions, ε-scaling, over-relaxation, Anderson acceleration and
//! batches of problems.
//!
//! ```no_run
//! use morphogen::gpu::GpuContext;
//! use morphogen::transport::{self, PointCloud, Problem, SinkhornConfig};
//!
//! let ctx = GpuContext::new()?;
//! let x = PointCloud::new(vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0], 2)?;
//! let y = PointCloud::new(vec![0.1, 0.1, 1.1, 0.2], 2)?;
//! let solution = transport::solve(&ctx, &Problem::new(x, y)?, &SinkhornConfig::default().eps(0.01))?;
//! println!("OT_eps = {}, converged: {}", solution.reg_ot_cost, solution.converged);
//! # Ok::<(), morphogen::Error>(())
//! ```
//!
//! # Kernels
//!
//! | kernel (`shaders/`) | driver | CPU twin | tests |
//! |---|---|---|---|
//! | `transport/update.wgsl` | `dispatch`, `workspace`, `solver` | [`solve_cpu`] | `tests/transport_cpu.rs`, `transport_pot.rs`, `transport_inputs.rs` |
//! | `transport/cost_matrix.wgsl` | `cost_matrix` | [`Problem::cost`] | `tests/transport_cpu.rs` |
//! | `transport/map.wgsl` | `coupling` ([`Coupling::map`]) | [`map_cpu`] | `tests/transport_api.rs` |
//! | `transport/plan.wgsl` | `coupling` ([`Coupling::plan`]) | [`plan_cpu`] | `tests/transport_api.rs` |
//! | `transport/anderson_gram.wgsl`, `transport/anderson_weights.wgsl`, `transport/anderson_mix.wgsl` | `anderson_gpu`, `solver` | `anderson` (in [`solve_cpu`]) | `tests/transport_cpu.rs` |
//! | `transport/sample.wgsl` | `coupling` ([`Coupling::sample`]) | the plan, by its empirical frequencies | `tests/transport_api.rs` |

mod anderson;
mod anderson_gpu;
mod config;
mod cost_matrix;
mod coupling;
mod dispatch;
mod divergence;
mod problem;
pub mod reference;
mod schedule;
mod solution;
mod solver;
mod workspace;

pub use config::{Anderson, Convention, CostStorage, Epsilon, Marginal, SinkhornConfig};
pub use cost_matrix::{cost_matrix, time_cost_matrix};
pub use coupling::{Coupling, Gradients, MAX_PLAN_ENTRIES};
pub use divergence::{
    sinkhorn_divergence, sinkhorn_divergence_cpu, sinkhorn_divergence_grad, solve_chain, Divergence,
};
pub use problem::{Cost, PointCloud, Problem};
pub use reference::{gradients_cpu, map_cpu, plan_cpu, solve_cpu};
pub use schedule::CostStats;
pub use solution::Solution;
pub use solver::SolveProgress;

use crate::error::Result;
use crate::gpu::GpuContext;

/// Mean, standard deviation and largest value of the cost over all pairs of a problem,
/// computed on the GPU in one pass (what a relative ε is relative to).
pub fn cost_stats(ctx: &GpuContext, problem: &Problem) -> Result<CostStats> {
    Ok(solver::cost_stats(ctx, &[problem])?.remove(0))
}

/// Solves one problem on the GPU.
pub fn solve(ctx: &GpuContext, problem: &Problem, config: &SinkhornConfig) -> Result<Solution> {
    let mut solved = solver::solve_resident(ctx, &[problem], config, None)?;
    Ok(solved.solutions.remove(0))
}

/// Solves B problems of equal shape (n, m, dimension, cost) in one dispatch chain.
/// Iterates until every problem has converged or `max_iter` is reached.
pub fn solve_batch(
    ctx: &GpuContext,
    problems: &[Problem],
    config: &SinkhornConfig,
) -> Result<Vec<Solution>> {
    let refs: Vec<&Problem> = problems.iter().collect();
    Ok(solver::solve_resident(ctx, &refs, config, None)?.solutions)
}

/// [`solve`], calling `progress(iterations, max_iter, marginal error)` after each error
/// check (every `check_every` iterations, where the host reads the error anyway), so a
/// caller can show progress or stop a long solve with an error.
pub fn solve_with_progress(
    ctx: &GpuContext,
    problem: &Problem,
    config: &SinkhornConfig,
    progress: SolveProgress<'_>,
) -> Result<Solution> {
    let mut solved = solver::solve_resident(ctx, &[problem], config, Some(progress))?;
    Ok(solved.solutions.remove(0))
}
