//! `morphogen transport`: entropic OT between two point clouds from `.npy` files.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::output::{bad, read_points, read_weights, spinner, CliResult, Failure, OutDir};
use crate::cli::Common;
use crate::transport::{sinkhorn_divergence, Cost, Coupling, PointCloud, Problem, SinkhornConfig};

/// Arguments of `morphogen transport`.
#[derive(Args, Debug)]
pub struct TransportArgs {
    /// Source points: an N x d float32/float64 `.npy` array.
    #[arg(long)]
    pub source: PathBuf,
    /// Target points: an M x d array.
    #[arg(long)]
    pub target: PathBuf,
    /// Source weights (N, non-negative; uniform by default).
    #[arg(long)]
    pub source_weights: Option<PathBuf>,
    /// Target weights (M).
    #[arg(long)]
    pub target_weights: Option<PathBuf>,
    /// sqeuclidean, euclidean, l1 or elastic:GAMMA.
    #[arg(long, default_value = "sqeuclidean")]
    pub cost: String,
    /// Entropic regularisation, absolute.
    #[arg(long, conflicts_with = "eps_rel")]
    pub eps: Option<f32>,
    /// Entropic regularisation relative to the mean cost (default 0.05).
    #[arg(long)]
    pub eps_rel: Option<f32>,
    /// Marginal relaxation on both sides, in (0, 1] (1: balanced).
    #[arg(long, conflicts_with_all = ["tau_a", "tau_b"])]
    pub tau: Option<f32>,
    /// Relaxation of the source marginal.
    #[arg(long)]
    pub tau_a: Option<f32>,
    /// Relaxation of the target marginal.
    #[arg(long)]
    pub tau_b: Option<f32>,
    /// Most Sinkhorn iterations.
    #[arg(long, default_value_t = 2000)]
    pub max_iter: usize,
    /// Stop when the marginal error falls below this.
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f32,
    /// Also compute the debiased Sinkhorn divergence.
    #[arg(long)]
    pub divergence: bool,
    /// Map these points (P x d) through the entropic map into `map.npy`.
    #[arg(long)]
    pub map_points: Option<PathBuf>,
    /// Draw this many (i, j) pairs from the plan into `pairs.npy`.
    #[arg(long)]
    pub sample: Option<usize>,
    /// Seed of the plan sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Exit with code 4 when the solve does not converge.
    #[arg(long)]
    pub strict: bool,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

/// Runs `morphogen transport`.
pub fn run(args: &TransportArgs, common: &Common) -> CliResult<()> {
    let (x, d) = read_points("--source", &args.source)?;
    let (y, dy) = read_points("--target", &args.target)?;
    if d != dy {
        return Err(bad(format!(
            "--source has {d} columns but --target has {dy}: both clouds need the same dimension"
        )));
    }
    let (n, m) = (x.len() / d, y.len() / d);
    let mut source = PointCloud::new(x.clone(), d)?;
    let mut target = PointCloud::new(y.clone(), d)?;
    if let Some(path) = &args.source_weights {
        source = source.with_weights(read_weights("--source-weights", path, n)?)?;
    }
    if let Some(path) = &args.target_weights {
        target = target.with_weights(read_weights("--target-weights", path, m)?)?;
    }
    let cost = Cost::parse(&args.cost).map_err(|e| bad(format!("--cost: {e}")))?;
    let map_points = match &args.map_points {
        Some(path) => {
            let (p, dp) = read_points("--map-points", path)?;
            if dp != d {
                return Err(bad(format!(
                    "--map-points has {dp} columns, the clouds have {d}"
                )));
            }
            Some(p)
        }
        None => None,
    };
    let mut config = SinkhornConfig::default()
        .max_iter(args.max_iter)
        .threshold(args.tol);
    config = match (args.eps, args.eps_rel) {
        (Some(e), _) => config.eps(e),
        (None, Some(r)) => config.eps_rel(r),
        (None, None) => config,
    };
    if let Some(t) = args.tau {
        config = config.tau(t);
    }
    if let Some(t) = args.tau_a {
        config = config.tau_a(t);
    }
    if let Some(t) = args.tau_b {
        config = config.tau_b(t);
    }
    config.validate().map_err(|e| bad(e.to_string()))?;
    let problem = Problem::with_cost(source.clone(), target.clone(), cost)?;

    let ctx = common.context()?;
    let spin = spinner("sinkhorn", common.quiet);
    let coupling = Coupling::solve(&ctx, &problem, &config)?;
    let mapped = match &map_points {
        Some(p) => Some(coupling.map(p)?),
        None => None,
    };
    let pairs = match args.sample {
        Some(k) => Some(coupling.sample(k, args.seed)?),
        None => None,
    };
    let divergence = if args.divergence {
        Some(sinkhorn_divergence(&ctx, &source, &target, cost, &config)?)
    } else {
        None
    };
    spin.finish_and_clear();

    let out = OutDir::prepare(&args.out, args.force)?;
    let s = coupling.solution();
    out.npy("f.npy", &s.f, &[n])?;
    out.npy("g.npy", &s.g, &[m])?;
    if let Some(mapped) = &mapped {
        out.npy("map.npy", mapped, &[mapped.len() / d, d])?;
    }
    if let Some(pairs) = &pairs {
        let flat: Vec<i64> = pairs
            .iter()
            .flat_map(|&(i, j)| [i64::from(i), i64::from(j)])
            .collect();
        out.npy("pairs.npy", &flat, &[pairs.len(), 2])?;
    }
    let summary = json!({
        "command": "transport",
        "n": n, "m": m, "dim": d,
        "cost": args.cost,
        "epsilon": s.epsilon,
        "tau_a": s.tau_a, "tau_b": s.tau_b,
        "reg_ot_cost": s.reg_ot_cost,
        "primal_cost": s.primal_cost,
        "transported_mass": s.transported_mass,
        "iterations": s.iterations,
        "marginal_error": s.marginal_error,
        "converged": s.converged,
        "convention": s.convention.name(),
        "divergence": divergence.as_ref().map(|d| d.value),
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(&summary, common.json)?;
    if !common.quiet && !common.json {
        eprintln!(
            "{} iterations, marginal error {:.2e}, converged {}; wrote {}",
            s.iterations,
            s.marginal_error,
            s.converged,
            out.path().display()
        );
    }
    if args.strict && !s.converged {
        return Err(Failure::NotConverged(format!(
            "Sinkhorn did not reach marginal error {} in {} iterations (reached {:.3e}); the \
             outputs are written, raise --max-iter or --eps to converge",
            args.tol, s.iterations, s.marginal_error
        )));
    }
    Ok(())
}
