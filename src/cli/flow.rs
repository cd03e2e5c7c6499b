//! `morphogen flow`: particles pushed through a velocity field exported from PyTorch,
//! by an ODE solver or, with noise, weights or branches, by an SDE scheme
//! (`crate::cli::sde`).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::output::{bad, read_npy, read_points, spinner, CliResult, OutDir};
use crate::cli::shard::Shard;
use crate::cli::Common;
use crate::flow::{self, FlowConfig, LogDensity, Solver, VelocityField};

/// Arguments of `morphogen flow`.
#[derive(Args, Debug)]
pub struct FlowArgs {
    /// Weights: a safetensors file written by `scripts/export_model.py`. Repeat for
    /// several branches (one velocity field each).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// The model's JSON spec (default: beside the weights with a `.json` extension, or
    /// TorchCFM's layout inferred from the weights). With one --model only.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// A score network added to the drift (v + s forward, -v + s backward, as SF2M);
    /// one per --model. Specs beside the weights.
    #[arg(long)]
    pub score: Vec<PathBuf>,
    /// A growth head (a scalar network) giving each particle a weight; one per --model.
    #[arg(long)]
    pub growth: Vec<PathBuf>,
    /// log (d log w/dt = g) or additive (dw/dt = g, Branched SBM).
    #[arg(long, default_value = "log")]
    pub growth_mode: String,
    /// Starting weight of each branch, comma-separated (default 1/K each).
    #[arg(long, value_delimiter = ',')]
    pub initial_weights: Vec<f64>,
    /// Resample a branch (systematically) at a save time where its effective sample
    /// size falls below this fraction of the particles.
    #[arg(long)]
    pub resample_below: Option<f64>,
    /// Conditioning vectors: a `.npy` array, c values (one population) or P x c.
    #[arg(long)]
    pub cond: Option<PathBuf>,
    /// Each particle's population (a 1-D `.npy` array of N integers) for P x c --cond.
    #[arg(long, requires = "cond")]
    pub population: Option<PathBuf>,
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
    /// euler, midpoint, heun, rk4 (fixed steps), dopri5 or tsit5 (adaptive, per
    /// particle); em (Euler-Maruyama) or sra1 for SDEs, weights and branches.
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
    /// Diffusion sigma of an SDE (with --solver em or sra1).
    #[arg(long, default_value_t = 0.0)]
    pub sigma: f64,
    /// The diffusion is sigma sqrt(t (1 - t)) (SF2M's Brownian bridge), not constant.
    #[arg(long)]
    pub bridge: bool,
    /// Seed of the Gaussian start, the SDE noise and Hutchinson's probes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also integrate the log-density change into `logp.npy`: exact (the default),
    /// hutchinson or central (forward-only central differences).
    #[arg(long, num_args = 0..=1, default_missing_value = "exact")]
    pub logp: Option<String>,
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
    if args.spec.is_some() && args.model.len() > 1 {
        return Err(bad(
            "--spec names the spec of a single --model; with several, put each spec beside \
             its weights (same name, .json)",
        ));
    }
    let fields = args
        .model
        .iter()
        .map(|m| load_model("--model", m, args.spec.as_deref()))
        .collect::<CliResult<Vec<_>>>()?;
    let field = fields[0].clone();
    let d = field.dim;
    let stochastic = crate::cli::sde::wanted(args);
    let solver = if stochastic {
        None
    } else {
        Some(Solver::parse(&args.solver).ok_or_else(|| {
            bad(format!(
                "--solver {}: use euler, midpoint, heun, rk4, dopri5, tsit5, em or sra1",
                args.solver
            ))
        })?)
    };
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
    let (cond, population) = read_conditioning(args, &field, total, &range)?;
    let input = Input {
        x0,
        cond,
        population,
        range,
        total,
    };
    let Some(solver) = solver else {
        return crate::cli::sde::run(args, common, fields, input);
    };
    let Input {
        x0,
        cond,
        population,
        range,
        total,
    } = input;
    let n = x0.len() / d;
    let mut config = FlowConfig::default()
        .solver(solver)
        .span(args.t0, args.t1)
        .steps(args.steps)
        .tolerances(args.rtol, args.atol);
    if !args.save_at.is_empty() {
        config = config.save_at(&args.save_at);
    }
    if let Some(mode) = &args.logp {
        let mode = LogDensity::parse(mode)
            .ok_or_else(|| bad(format!("--logp {mode}: use exact, hutchinson or central")))?;
        config = config.log_density(mode, args.seed);
    }
    config.validate().map_err(|e| bad(e.to_string()))?;

    let ctx = common.context()?;
    let spin = spinner("flow", common.quiet);
    let result = flow::integrate_populations(&ctx, &field, &x0, &cond, &population, &config)?;
    spin.finish_and_clear();

    let out = OutDir::prepare(&args.out, args.force)?;
    let times = result.times.len();
    out.npy("states.npy", &result.states, &[times, n, d])?;
    if let Some(logp) = &result.log_density_change {
        out.npy("logp.npy", logp, &[times, n])?;
    }
    if d == 2 {
        let title = format!(
            "{} of {n} particles\n{}",
            model_names(&args.model),
            describe(&config)
        );
        out.figure(
            "trajectories.png",
            &crate::figures::engines::trajectories(&title, &result)?,
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
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!("{n} particles integrated; wrote {}", out.path().display());
    }
    Ok(())
}

/// The models' file names, for a figure's title.
pub fn model_names(models: &[std::path::PathBuf]) -> String {
    models
        .iter()
        .map(|m| {
            m.file_name().map_or_else(
                || m.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// "tsit5, rtol 1e-5, atol 1e-5" or "rk4, 100 steps": how a flow was integrated, for a
/// figure's title.
pub fn describe(config: &FlowConfig) -> String {
    let solver = format!("{:?}", config.solver).to_lowercase();
    if config.solver.is_adaptive() {
        format!(
            "{solver}, rtol {:.0e}, atol {:.0e}",
            config.rtol, config.atol
        )
    } else {
        format!("{solver}, {} steps", config.steps)
    }
}

/// Starting particles, conditioning and the shard's place in the whole set.
pub(crate) struct Input {
    pub x0: Vec<f32>,
    pub cond: Vec<f32>,
    pub population: Vec<u32>,
    pub range: std::ops::Range<usize>,
    pub total: usize,
}

/// Loads a network, its spec from `spec` or beside the weights.
pub(crate) fn load_model(
    flag: &str,
    path: &std::path::Path,
    spec: Option<&std::path::Path>,
) -> CliResult<VelocityField> {
    if !path.is_file() {
        return Err(bad(format!("{flag} {}: no such file", path.display())));
    }
    let beside = path.with_extension("json");
    let spec = spec.or_else(|| beside.is_file().then_some(beside.as_path()));
    VelocityField::load(path, spec).map_err(|e| bad(format!("{flag} {e}")))
}

/// The conditioning vectors and this shard's particles' populations.
fn read_conditioning(
    args: &FlowArgs,
    field: &VelocityField,
    total: usize,
    range: &std::ops::Range<usize>,
) -> CliResult<(Vec<f32>, Vec<u32>)> {
    let Some(path) = &args.cond else {
        if field.cond_dim > 0 {
            return Err(bad(format!(
                "the model takes a conditioning vector of {} values: give --cond FILE.npy",
                field.cond_dim
            )));
        }
        return Ok((Vec::new(), Vec::new()));
    };
    let cond = read_npy("--cond", path)?;
    let c = field.cond_dim;
    let rows = match cond.shape[..] {
        [k] if k == c => 1,
        [p, k] if k == c && p > 0 => p,
        _ => {
            return Err(bad(format!(
            "--cond {}: shape {:?}; the model takes vectors of {c} values: give [{c}] or [P, {c}]",
            path.display(),
            cond.shape
        )))
        }
    };
    let population = match &args.population {
        None if rows > 1 => {
            return Err(bad(format!(
                "--cond holds {rows} vectors: give each particle's population with --population"
            )))
        }
        None => Vec::new(),
        Some(p) => {
            let idx = read_npy("--population", p)?;
            if idx.shape != [total] {
                return Err(bad(format!(
                    "--population {}: expected {total} indices (one per particle), got shape {:?}",
                    p.display(),
                    idx.shape
                )));
            }
            if let Some(i) = idx
                .data
                .iter()
                .position(|&v| v < 0.0 || v.fract() != 0.0 || v as usize >= rows)
            {
                return Err(bad(format!(
                    "--population {}: entry {i} is {}; populations are integers 0..{rows}",
                    p.display(),
                    idx.data[i]
                )));
            }
            idx.data[range.clone()].iter().map(|&v| v as u32).collect()
        }
    };
    Ok((cond.data, population))
}

/// `n` standard normal points in `d` dimensions from the crate's counter-based generator.
pub(crate) fn gaussian(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let key = crate::rng::seed_key(seed);
    (0..n * d)
        .map(|i| {
            let z = crate::rng::normal4(key, [(i / 4) as u32, 0xF10, 0, 0]);
            z[i % 4] as f32
        })
        .collect()
}
