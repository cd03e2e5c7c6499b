//! `morphogen flow`: particles pushed through a velocity field exported from PyTorch.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::output::{bad, read_points, spinner, CliResult, OutDir};
use crate::cli::shard::Shard;
use crate::cli::Common;
use crate::flow::{self, FlowConfig, LogDensity, Solver, VelocityField};

/// Arguments of `morphogen flow`.
#[derive(Args, Debug)]
pub struct FlowArgs {
    /// Weights: a safetensors file written by `scripts/export_model.py`.
    #[arg(long)]
    pub model: PathBuf,
    /// The model's JSON spec (default: beside the weights with a `.json` extension, or
    /// TorchCFM's layout inferred from the weights).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Starting particles: an N x d `.npy` array.
    #[arg(long, conflicts_with = "gaussian")]
    pub particles: Option<PathBuf>,
    /// Start from this many standard normal particles instead.
    #[arg(long)]
    pub gaussian: Option<usize>,
    /// Start time.
    #[arg(long, default_value_t = 0.0)]
    pub t0: f64,
    /// End time.
    #[arg(long, default_value_t = 1.0)]
    pub t1: f64,
    /// euler, midpoint, heun, rk4 (fixed steps), dopri5 or tsit5 (adaptive, per particle).
    #[arg(long, default_value = "tsit5")]
    pub solver: String,
    /// Steps of a fixed-step solver.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Relative tolerance of the adaptive solvers.
    #[arg(long, default_value_t = 1e-5)]
    pub rtol: f64,
    /// Absolute tolerance of the adaptive solvers.
    #[arg(long, default_value_t = 1e-5)]
    pub atol: f64,
    /// Times to save states at, comma-separated (default: t1).
    #[arg(long, value_delimiter = ',')]
    pub save_at: Vec<f64>,
    /// Diffusion of an SDE (not available: only 0).
    #[arg(long, default_value_t = 0.0)]
    pub sigma: f64,
    /// Seed of the Gaussian start and of Hutchinson's probes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also integrate the log-density change (exact divergence) into `logp.npy`.
    #[arg(long)]
    pub logp: bool,
    /// Integrate only part I of N of the particles (0-based, contiguous rows), for job
    /// arrays; `morphogen merge` joins the parts.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

/// Runs `morphogen flow`.
pub fn run(args: &FlowArgs, common: &Common) -> CliResult<()> {
    if !args.model.is_file() {
        return Err(bad(format!(
            "--model {}: no such file",
            args.model.display()
        )));
    }
    let spec = args.spec.clone().or_else(|| {
        let beside = args.model.with_extension("json");
        beside.is_file().then_some(beside)
    });
    let field = VelocityField::load(&args.model, spec.as_deref())?;
    let d = field.dim;
    if args.solver.eq_ignore_ascii_case("em") || args.sigma != 0.0 {
        return Err(bad(
            "SDE integration (--solver em, --sigma) is not available in this version; use an \
             ODE solver (euler, midpoint, heun, rk4, dopri5, tsit5) with --sigma 0",
        ));
    }
    let solver = Solver::parse(&args.solver).ok_or_else(|| {
        bad(format!(
            "--solver {}: use euler, midpoint, heun, rk4, dopri5 or tsit5",
            args.solver
        ))
    })?;
    let x0 = match (&args.particles, args.gaussian) {
        (Some(path), _) => {
            let (x, dx) = read_points("--particles", path)?;
            if dx != d {
                return Err(bad(format!(
                    "--particles {} has {dx} columns but the model's dimension is {d}",
                    path.display()
                )));
            }
            x
        }
        (None, Some(n)) if n > 0 => gaussian(n, d, args.seed),
        _ => return Err(bad("give --particles FILE.npy or --gaussian N (N > 0)")),
    };
    let total = x0.len() / d;
    let range = args.shard.nonempty(total, "particles")?;
    let x0 = x0[range.start * d..range.end * d].to_vec();
    let n = x0.len() / d;
    let mut config = FlowConfig::default()
        .solver(solver)
        .span(args.t0, args.t1)
        .steps(args.steps)
        .tolerances(args.rtol, args.atol);
    if !args.save_at.is_empty() {
        config = config.save_at(&args.save_at);
    }
    if args.logp {
        config = config.log_density(LogDensity::Exact, args.seed);
    }
    config.validate().map_err(|e| bad(e.to_string()))?;

    let ctx = common.context()?;
    let spin = spinner("flow", common.quiet);
    let result = flow::integrate(&ctx, &field, &x0, &[], &config)?;
    spin.finish_and_clear();

    let out = OutDir::prepare(&args.out, args.force)?;
    let times = result.times.len();
    out.npy("states.npy", &result.states, &[times, n, d])?;
    if let Some(logp) = &result.log_density_change {
        out.npy("logp.npy", logp, &[times, n])?;
    }
    if d == 2 {
        let picture = crate::io::plots::trajectories(&result, 900);
        out.write(
            "trajectories.png",
            &crate::io::encode_png(900, 900, &picture.rgba())?,
        )?;
    }
    let evals: Vec<f64> = result.evaluations.iter().map(|&e| f64::from(e)).collect();
    let sum = |v: &[u32]| v.iter().map(|&x| u64::from(x)).sum::<u64>();
    let summary = json!({
        "command": "flow",
        "particles": n, "dim": d,
        "shard": args.shard.label(),
        "range": [range.start, range.end],
        "total_particles": total,
        "solver": args.solver,
        "t0": args.t0, "t1": args.t1,
        "save_at": result.times,
        "evaluations_per_particle_mean": evals.iter().sum::<f64>() / n as f64,
        "evaluations_per_particle_max": evals.iter().copied().fold(0.0, f64::max),
        "accepted_steps": sum(&result.accepted),
        "rejected_steps": sum(&result.rejected),
        "capped_particles": result.capped.len(),
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(&summary, common.json)?;
    if !common.quiet && !common.json {
        eprintln!("{n} particles integrated; wrote {}", out.path().display());
    }
    Ok(())
}

/// `n` standard normal points in `d` dimensions from the crate's counter-based generator.
fn gaussian(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let key = crate::rng::seed_key(seed);
    (0..n * d)
        .map(|i| {
            let z = crate::rng::normal4(key, [(i / 4) as u32, 0xF10, 0, 0]);
            z[i % 4] as f32
        })
        .collect()
}
