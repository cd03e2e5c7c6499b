//! The GPU Sinkhorn loop: many iterations per submission, an error check every k
//! iterations (a few bytes read back), statistics and costs at the end.

use crate::error::{Error, Result};
use crate::gpu::{record_reduce_at, GpuContext, ReduceOp};
use crate::transport::anderson::AndersonSchedule;
use crate::transport::anderson_gpu::AndersonGpu;
use crate::transport::config::{CostStorage, Epsilon, SinkhornConfig};
use crate::transport::dispatch::{Mode, Side};
use crate::transport::problem::Problem;
use crate::transport::schedule::{assemble, CostStats, Momentum, Resolved, Schedule, SideStats};
use crate::transport::solution::Solution;
use crate::transport::workspace::Workspace;

/// Iterations recorded into one submission when no check falls inside them.
const MAX_ITERATIONS_PER_SUBMIT: usize = 64;

/// Cost statistics of each problem (one pass on the GPU).
pub(crate) fn cost_stats(ctx: &GpuContext, problems: &[&Problem]) -> Result<Vec<CostStats>> {
    Workspace::new(
        ctx,
        problems,
        crate::transport::Convention::KlProduct,
        CostStorage::Online,
    )?
    .cost_moments()
}

fn needs_stats(config: &SinkhornConfig) -> bool {
    !matches!(config.epsilon, Epsilon::Absolute(_)) || config.eps_decay.is_some()
}

/// A solved batch whose state stays on the GPU.
pub(crate) struct Solved {
    pub workspace: Workspace,
    pub resolved: Vec<Resolved>,
    pub solutions: Vec<Solution>,
}

/// Progress of a solve, after each error check: `(iterations done, max_iter, largest
/// marginal error of the batch)`. An error stops the solve and is returned.
pub type SolveProgress<'a> = &'a mut dyn FnMut(usize, usize, f64) -> Result<()>;

/// Solves a batch of equally shaped problems.
pub(crate) fn solve_resident(
    ctx: &GpuContext,
    problems: &[&Problem],
    config: &SinkhornConfig,
    mut progress: Option<SolveProgress<'_>>,
) -> Result<Solved> {
    config.validate()?;
    if problems.is_empty() {
        return Err(Error::invalid("no problems to solve"));
    }
    let mut ws = Workspace::new(ctx, problems, config.convention, config.cost_storage)?;
    let stats = if needs_stats(config) {
        ws.cost_moments()?
    } else {
        vec![CostStats::from_sums(1.0, 1.0, 1.0, 1.0); problems.len()]
    };
    let resolved = problems
        .iter()
        .zip(&stats)
        .map(|(p, s)| Resolved::new(p, config, *s))
        .collect::<Result<Vec<_>>>()?;
    ws.set_resolved(&resolved)?;
    let schedule = Schedule::new(config);
    let batch = problems.len();
    let mut momentum = Momentum::new(config);
    let anderson = config
        .anderson
        .map(|a| AndersonGpu::new(&ws, AndersonSchedule::new(a, &resolved, config.max_iter)))
        .transpose()?;
    let decay_pow = |t: usize| resolved[0].decay_pow(t);
    let mut history: Vec<Vec<(usize, f64)>> = vec![Vec::new(); batch];
    let mut converged = vec![false; batch];
    // Room in one submission's step blocks: iterations plus a check on both sides.
    let per_pass = ws.dispatches(Side::Source) + ws.dispatches(Side::Target);
    let room = ((ws.step_capacity() - per_pass) / per_pass).clamp(1, MAX_ITERATIONS_PER_SUBMIT);
    let mut t = 0;
    while t < config.max_iter {
        let omega = momentum.omega() as f32;
        let mut rec = ctx.recorder("morphogen.transport.sinkhorn");
        let mut blocks = Vec::new();
        let mut check = false;
        let mut recorded = 0;
        while t < config.max_iter && recorded < room {
            if let Some(a) = &anderson {
                a.before(&mut rec, &ws, t);
            }
            ws.record_iteration(&mut rec, &mut blocks, decay_pow(t), omega)?;
            if let Some(a) = &anderson {
                a.after(&mut rec, &ws, t);
            }
            recorded += 1;
            check = schedule.check_after(t, &resolved);
            t += 1;
            if check {
                break;
            }
        }
        let mut pending = Vec::new();
        if check {
            let sides: &[Side] = if omega == 1.0 {
                &[Side::Source]
            } else {
                &[Side::Source, Side::Target]
            };
            for &side in sides {
                ws.record(&mut rec, &mut blocks, Mode::Stats, side, 0.0, omega)?;
                let (stats, len) = match side {
                    Side::Source => (&ws.stats_rows, ws.n),
                    Side::Target => (&ws.stats_cols, ws.m),
                };
                let errors = record_reduce_at(
                    &mut rec,
                    stats,
                    ws.stats_stride(side),
                    batch,
                    len,
                    ReduceOp::Sum,
                )?;
                pending.push(rec.read(&errors)?);
                rec.keep(errors);
            }
        }
        ws.write_steps(&blocks)?;
        rec.submit()?;
        if !check {
            continue;
        }
        let mut errors = vec![0.0f64; batch];
        for p in pending {
            for (e, v) in errors.iter_mut().zip(p.wait(ctx)?) {
                *e += f64::from(v);
            }
        }
        for (b, &e) in errors.iter().enumerate() {
            history[b].push((t, e));
            converged[b] = e.is_finite() && e <= f64::from(config.threshold);
        }
        let worst = errors.iter().copied().fold(0.0, f64::max);
        momentum.observe(worst);
        if let Some(report) = progress.as_deref_mut() {
            report(t, config.max_iter, worst)?;
        }
        let finished = errors
            .iter()
            .zip(&converged)
            .all(|(e, &c)| c || !e.is_finite());
        if finished {
            break;
        }
    }
    ctx.check_errors("the Sinkhorn iterations")?;
    let solutions = finish(&mut ws, &resolved, history, t, &converged)?;
    Ok(Solved {
        workspace: ws,
        resolved,
        solutions,
    })
}

/// Measures the final potentials on both sides and assembles one solution per problem.
fn finish(
    ws: &mut Workspace,
    resolved: &[Resolved],
    history: Vec<Vec<(usize, f64)>>,
    iterations: usize,
    converged: &[bool],
) -> Result<Vec<Solution>> {
    let ctx = ws.ctx.clone();
    let mut rec = ctx.recorder("morphogen.transport.finish");
    let mut blocks = Vec::new();
    ws.record(&mut rec, &mut blocks, Mode::Stats, Side::Source, 0.0, 1.0)?;
    ws.record(&mut rec, &mut blocks, Mode::Stats, Side::Target, 0.0, 1.0)?;
    let p = ws.parity;
    let reads = (
        rec.read(&ws.stats_rows)?,
        rec.read(&ws.stats_cols)?,
        rec.read(&ws.f[p])?,
        rec.read(&ws.g[p])?,
    );
    ws.write_steps(&blocks)?;
    rec.submit()?;
    let (rows, cols, f, g) = (
        reads.0.wait(&ctx)?,
        reads.1.wait(&ctx)?,
        reads.2.wait(&ctx)?,
        reads.3.wait(&ctx)?,
    );
    let (n, m) = (ws.n, ws.m);
    let (sr, sc) = (ws.stats_stride(Side::Source), ws.stats_stride(Side::Target));
    let segment = |v: &[f32], stride: usize, k: usize, range: std::ops::Range<usize>| -> Vec<f64> {
        v[k * stride + range.start..k * stride + range.end]
            .iter()
            .map(|&x| f64::from(x))
            .collect()
    };
    Ok(resolved
        .iter()
        .enumerate()
        .map(|(b, r)| {
            let (ri, ci) = (b * n..(b + 1) * n, b * m..(b + 1) * m);
            let final_error: f64 = segment(&rows, sr, 1, ri.clone()).iter().sum::<f64>()
                + segment(&cols, sc, 1, ci.clone()).iter().sum::<f64>();
            assemble(
                r,
                ws.convention,
                SideStats {
                    potential: f[ri.clone()].to_vec(),
                    marginal: segment(&rows, sr, 0, ri.clone()),
                    primal: segment(&rows, sr, 2, ri),
                },
                SideStats {
                    potential: g[ci.clone()].to_vec(),
                    marginal: segment(&cols, sc, 0, ci.clone()),
                    primal: segment(&cols, sc, 2, ci),
                },
                history[b].clone(),
                iterations,
                converged[b] && final_error.is_finite(),
                final_error,
            )
        })
        .map(|mut solution| {
            solution.cost_matrix = ws.reads_cost_matrix();
            solution
        })
        .collect())
}
