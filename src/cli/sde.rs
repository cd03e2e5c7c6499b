//! `morphogen flow` with noise, weights or branches: the SDE schemes of
//! `crate::flow::sde`, writing states, weights and per-save mass and effective sample
//! size.

use serde_json::json;

use crate::cli::flow::{load_model, FlowArgs, Input};
use crate::cli::output::{bad, progress, CliResult, OutDir};
use crate::cli::Common;
use crate::figures::engines;
use crate::flow::sde::{self, Branch, Diffusion, Growth, SdeConfig, SdeResult, SdeSolver};
use crate::flow::VelocityField;

/// Whether the arguments ask for the SDE path.
pub fn wanted(args: &FlowArgs) -> bool {
    SdeSolver::parse(&args.solver).is_some()
        || args.sigma != 0.0
        || args.bridge
        || !args.score.is_empty()
        || !args.growth.is_empty()
        || args.model.len() > 1
        || args.resample_below.is_some()
}

/// One network per branch, or none.
fn per_branch(
    flag: &str,
    paths: &[std::path::PathBuf],
    k: usize,
) -> CliResult<Vec<Option<VelocityField>>> {
    match paths.len() {
        0 => Ok(vec![None; k]),
        m if m == k => paths
            .iter()
            .map(|p| load_model(flag, p, None).map(Some))
            .collect(),
        m => Err(bad(format!(
            "{m} {flag} files for {k} branches (--model): give one per --model"
        ))),
    }
}

fn config(args: &FlowArgs, input: &Input) -> CliResult<SdeConfig> {
    let solver = SdeSolver::parse(&args.solver).ok_or_else(|| {
        bad(format!(
            "--solver {}: noise (--sigma), weights (--growth), scores and several branches run \
             with the fixed-step SDE schemes: use --solver em or sra1 (with --sigma 0 they are \
             Euler's method and Ralston's RK2)",
            args.solver
        ))
    })?;
    if args.logp.is_some() {
        return Err(bad(
            "--logp integrates the density of an ODE flow; it is not defined along SDE paths: \
             drop --logp or use an ODE solver without noise or weights",
        ));
    }
    let growth = Growth::parse(&args.growth_mode).ok_or_else(|| {
        bad(format!(
            "--growth-mode {}: use log or additive",
            args.growth_mode
        ))
    })?;
    if args.resample_below.is_some() && args.shard.count > 1 {
        return Err(bad(
            "--resample-below resamples over all particles of a branch; it cannot be split \
             with --shard",
        ));
    }
    let mut config = SdeConfig::default()
        .solver(solver)
        .span(args.t0, args.t1)
        .steps(args.steps)
        .diffusion(if args.bridge {
            Diffusion::Bridge(args.sigma)
        } else {
            Diffusion::Constant(args.sigma)
        })
        .seed(args.seed)
        .growth(growth)
        .initial_weights(&args.initial_weights)
        .particle_offset(input.range.start);
    config.resample_below = args.resample_below;
    if !args.save_at.is_empty() {
        config = config.save_at(&args.save_at);
    }
    Ok(config)
}

/// Runs the SDE path of `morphogen flow`.
pub(crate) fn run(
    args: &FlowArgs,
    common: &Common,
    fields: Vec<VelocityField>,
    input: Input,
) -> CliResult<()> {
    let config = config(args, &input)?;
    let k = fields.len();
    let scores = per_branch("--score", &args.score, k)?;
    let growths = per_branch("--growth", &args.growth, k)?;
    let branches: Vec<Branch> = fields
        .into_iter()
        .zip(scores)
        .zip(growths)
        .map(|((velocity, score), growth)| Branch {
            velocity,
            score,
            growth,
        })
        .collect();
    config.validate(&branches).map_err(|e| bad(e.to_string()))?;
    let ctx = common.context()?;
    let bar = progress(0, "sde", common.quiet);
    let result = sde::simulate_with_progress(
        &ctx,
        &branches,
        &input.x0,
        (&input.cond, &input.population),
        &config,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    write(args, common, &ctx, &result, &input)
}

fn write(
    args: &FlowArgs,
    common: &Common,
    ctx: &crate::gpu::GpuContext,
    result: &SdeResult,
    input: &Input,
) -> CliResult<()> {
    let (times, k, n, d) = (
        result.times.len(),
        result.branches,
        result.particles,
        result.dim,
    );
    let out = OutDir::prepare(&args.out, args.force)?;
    // One branch: [times, n, d] as the ODE path writes; several: [times, K, n, d].
    let (state_shape, weight_shape) = if k == 1 {
        (vec![times, n, d], vec![times, n])
    } else {
        (vec![times, k, n, d], vec![times, k, n])
    };
    out.npy("states.npy", &result.states, &state_shape)?;
    if let Some(w) = &result.weights {
        out.npy("weights.npy", w, &weight_shape)?;
    }
    let title = format!(
        "{} of {n} particles x {k} branches: {}, sigma {}, {} steps",
        super::flow::model_names(&args.model),
        args.solver,
        args.sigma,
        result.steps
    );
    if d == 2 {
        out.figure(
            "trajectories.png",
            &engines::branch_trajectories(&title, result, &input.x0)?,
        )?;
    }
    if result.weights.is_some() || k > 1 {
        out.figure("weights.png", &engines::sde_weights(&title, result)?)?;
    }
    let per_time = |v: &[f64]| -> Vec<Vec<f64>> { v.chunks(k).map(<[f64]>::to_vec).collect() };
    let summary = json!({
        "command": "flow",
        "particles": n, "dim": d, "branches": k,
        "shard": args.shard.label(),
        "range": [input.range.start, input.range.end],
        "total_particles": input.total,
        "solver": args.solver,
        "sigma": args.sigma,
        "diffusion": if args.bridge { "bridge" } else { "constant" },
        "t0": args.t0, "t1": args.t1,
        "save_at": result.times,
        "steps": result.steps,
        "evaluations_per_particle_mean": result.evaluations,
        "evaluations_per_particle_max": result.evaluations,
        "weighted": result.weights.is_some(),
        "mass": per_time(&result.mass),
        "ess": per_time(&result.ess),
        "resampled": result.resampled,
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!(
            "{n} particles x {k} branches simulated ({} steps); wrote {}",
            result.steps,
            out.path().display()
        );
    }
    Ok(())
}
