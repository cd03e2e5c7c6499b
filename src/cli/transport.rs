//! `morphogen transport`: entropic OT between two point clouds from `.npy` files.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::output::{
    bad, read_npy, read_points, read_weights, spinner, CliResult, Failure, OutDir,
};
use crate::cli::shard::Shard;
use crate::cli::Common;
use crate::figures::engines;
use crate::transport::{
    sinkhorn_divergence, solve_batch, Anderson, Cost, Coupling, PointCloud, Problem, SinkhornConfig,
};

/// Arguments of `morphogen transport`.
#[derive(Args, Debug)]
pub struct TransportArgs {
    /// Source points: an N x d float32/float64 `.npy` array, or B x N x d for a batch of
    /// B problems of equal shape.
    #[arg(long)]
    pub source: PathBuf,
    /// Target points: an M x d array (B x M x d for a batch).
    #[arg(long)]
    pub target: PathBuf,
    /// Source weights (N, non-negative; uniform by default; B x N for a batch).
    #[arg(long)]
    pub source_weights: Option<PathBuf>,
    /// Target weights (M; B x M for a batch).
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
    /// Anneal epsilon from the largest cost down to its target by this factor per
    /// iteration, in (0, 1) (e.g. 0.9).
    #[arg(long)]
    pub eps_scaling: Option<f32>,
    /// Anderson acceleration over this many iterates (1 to 8; 5 is a good start): fewer
    /// iterations at small epsilon.
    #[arg(long)]
    pub anderson: Option<usize>,
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
    /// Also draw `convergence.png` (the marginal error at each check, log scale) and, for
    /// 2-D points, `map.png` (source, target, the entropic map and pairs from the plan).
    #[arg(long)]
    pub figures: bool,
    /// Exit with code 4 when the solve does not converge.
    #[arg(long)]
    pub strict: bool,
    /// Solve only part I of N of a batch (0-based), for job arrays; `morphogen merge`
    /// joins the parts.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

/// The configuration the flags describe.
fn sinkhorn_config(args: &TransportArgs) -> CliResult<SinkhornConfig> {
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
    if let Some(decay) = args.eps_scaling {
        config = config.eps_scaling(decay);
    }
    if let Some(memory) = args.anderson {
        config = config.anderson(Anderson::with_memory(memory));
    }
    config.validate().map_err(|e| bad(e.to_string()))?;
    Ok(config)
}

/// Runs `morphogen transport`.
pub fn run(args: &TransportArgs, common: &Common) -> CliResult<()> {
    let source = read_npy("--source", &args.source)?;
    match source.shape.len() {
        2 => {}
        3 => return run_batch(args, common),
        _ => {
            return Err(bad(format!(
                "--source {}: expected points as a 2-D array (N x d), or a 3-D batch (B x N x \
                 d), got shape {:?}",
                args.source.display(),
                source.shape
            )))
        }
    }
    if args.shard != Shard::default() {
        return Err(bad(
            "--shard splits a batch of problems: give B x N x d arrays to --source and --target",
        ));
    }
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
    let config = sinkhorn_config(args)?;
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
    if args.figures {
        let title = format!(
            "Sinkhorn, {} cost\n{}",
            args.cost,
            engines::transport_parameters(s)
        );
        out.figure(
            "convergence.png",
            &engines::convergence(&title, s, f64::from(args.tol))?,
        )?;
        if d == 2 {
            // Costs without an entropic map draw the points and pairs only.
            let image = match coupling.map(&x) {
                Ok(image) => image,
                Err(crate::Error::InvalidInput(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let drawn = match &pairs {
                Some(p) => p.clone(),
                None => coupling.sample(300, args.seed)?,
            };
            out.figure(
                "map.png",
                &engines::transport_map(&title, &x, &y, &image, &drawn)?,
            )?;
        }
    }
    let summary = json!({
        "command": "transport",
        "n": n, "m": m, "dim": d,
        "cost": args.cost,
        "epsilon": s.epsilon,
        "tau_a": s.tau_a, "tau_b": s.tau_b,
        "eps_scaling": args.eps_scaling,
        "anderson_memory": args.anderson,
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
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
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

/// A B x K x d array (or B x K weights) cut into its B slices.
fn slices(flag: &str, path: &std::path::Path, rank: usize) -> CliResult<(Vec<usize>, Vec<f32>)> {
    let array = read_npy(flag, path)?;
    if array.shape.len() != rank || array.shape.contains(&0) {
        return Err(bad(format!(
            "{flag} {}: expected a {rank}-D array for a batch, got shape {:?}",
            path.display(),
            array.shape
        )));
    }
    Ok((array.shape, array.data))
}

/// `morphogen transport` on a batch: B problems of equal shape in one dispatch chain.
fn run_batch(args: &TransportArgs, common: &Common) -> CliResult<()> {
    let (xs, x) = slices("--source", &args.source, 3)?;
    let target_shape = read_npy("--target", &args.target)?.shape;
    if target_shape.len() != 3 {
        return Err(bad(format!(
            "--source is a batch {xs:?} (B x N x d) but --target has shape {target_shape:?}: \
             give both as batches or both as single clouds"
        )));
    }
    let (ys, y) = slices("--target", &args.target, 3)?;
    let (b, n, d) = (xs[0], xs[1], xs[2]);
    let m = ys[1];
    if ys[0] != b || ys[2] != d {
        return Err(bad(format!(
            "--source is {xs:?} but --target is {ys:?}: a batch needs the same B and d on both"
        )));
    }
    if args.map_points.is_some() || args.sample.is_some() || args.divergence {
        return Err(bad(
            "--map-points, --sample and --divergence work on one problem, not a batch",
        ));
    }
    let weights = |flag: &str, path: &Option<PathBuf>, k: usize| -> CliResult<Option<Vec<f32>>> {
        match path {
            None => Ok(None),
            Some(p) => {
                let (shape, w) = slices(flag, p, 2)?;
                if shape != [b, k] {
                    return Err(bad(format!(
                        "{flag} {}: expected {b} x {k} weights, got {shape:?}",
                        p.display()
                    )));
                }
                Ok(Some(w))
            }
        }
    };
    let wa = weights("--source-weights", &args.source_weights, n)?;
    let wb = weights("--target-weights", &args.target_weights, m)?;
    let cost = Cost::parse(&args.cost).map_err(|e| bad(format!("--cost: {e}")))?;
    let config = sinkhorn_config(args)?;
    let range = args.shard.nonempty(b, "problems")?;
    let problems = range
        .clone()
        .map(|i| {
            let mut source = PointCloud::new(x[i * n * d..(i + 1) * n * d].to_vec(), d)?;
            let mut target = PointCloud::new(y[i * m * d..(i + 1) * m * d].to_vec(), d)?;
            if let Some(w) = &wa {
                source = source.with_weights(w[i * n..(i + 1) * n].to_vec())?;
            }
            if let Some(w) = &wb {
                target = target.with_weights(w[i * m..(i + 1) * m].to_vec())?;
            }
            Problem::with_cost(source, target, cost)
        })
        .collect::<crate::Result<Vec<_>>>()?;

    let ctx = common.context()?;
    let spin = spinner("sinkhorn", common.quiet);
    let solutions = solve_batch(&ctx, &problems, &config)?;
    spin.finish_and_clear();

    let out = OutDir::prepare(&args.out, args.force)?;
    let k = solutions.len();
    let f: Vec<f32> = solutions.iter().flat_map(|s| s.f.iter().copied()).collect();
    let g: Vec<f32> = solutions.iter().flat_map(|s| s.g.iter().copied()).collect();
    out.npy("f.npy", &f, &[k, n])?;
    out.npy("g.npy", &g, &[k, m])?;
    let column = |pick: &dyn Fn(&crate::transport::Solution) -> serde_json::Value| {
        solutions.iter().map(pick).collect::<Vec<_>>()
    };
    let summary = json!({
        "command": "transport",
        "batch": b,
        "shard": args.shard.label(),
        "range": [range.start, range.end],
        "n": n, "m": m, "dim": d,
        "cost": args.cost,
        "epsilon": column(&|s| json!(s.epsilon)),
        "reg_ot_cost": column(&|s| json!(s.reg_ot_cost)),
        "primal_cost": column(&|s| json!(s.primal_cost)),
        "iterations": column(&|s| json!(s.iterations)),
        "marginal_error": column(&|s| json!(s.marginal_error)),
        "converged": column(&|s| json!(s.converged)),
        "convention": solutions[0].convention.name(),
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    let unconverged = solutions.iter().filter(|s| !s.converged).count();
    if !common.quiet && !common.json {
        eprintln!(
            "{k} problems ({} of {b}), {unconverged} not converged; wrote {}",
            args.shard.label(),
            out.path().display()
        );
    }
    if args.strict && unconverged > 0 {
        return Err(Failure::NotConverged(format!(
            "{unconverged} of {k} problems did not reach marginal error {}; the outputs are \
             written",
            args.tol
        )));
    }
    Ok(())
}
