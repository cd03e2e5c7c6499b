//! `morphogen train`: a flow-matching field trained on the GPU (couple, learn), then
//! integrated (the trained field's trajectories and the squared W2 of its samples).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::output::{bad, progress, read_points, CliResult, OutDir};
use crate::cli::Common;
use crate::flow::train::{
    evaluate, evaluate_sde, ExactPairing, Method, NetworkShape, Sampler, TrainCheckpoint,
    TrainConfig, Trainer,
};
use crate::flow::{Activation, TimeInput};

/// Arguments of `morphogen train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Source points (N x d `.npy`).
    #[arg(long, requires = "target", conflicts_with = "task")]
    pub source: Option<PathBuf>,
    /// Target points (N x d `.npy`).
    #[arg(long, requires = "source", conflicts_with = "task")]
    pub target: Option<PathBuf>,
    /// A built-in task SOURCE-TARGET: TorchCFM's 8gaussians and moons, FFJORD's
    /// checkerboard, or normal (used when no point files are given).
    #[arg(long, default_value = "8gaussians-moons")]
    pub task: String,
    /// icfm, otcfm (exact OT pairs per batch), fm (Lipman's, from N(0, I)), sbcfm (pairs
    /// from the entropic plan, Brownian-bridge path) or uotfm (pairs from the unbalanced
    /// plan on mean-normalised costs, stratified times).
    #[arg(long, default_value = "otcfm")]
    pub method: String,
    /// Entropic pairing's epsilon (sbcfm: 2 sigma^2 by default; uotfm: 0.01 of the mean
    /// cost).
    #[arg(long)]
    pub eps: Option<f64>,
    /// Unbalanced pairing's tau = rho / (rho + eps) (uotfm: 0.95 by default; 1 balanced).
    #[arg(long)]
    pub tau: Option<f64>,
    /// Sinkhorn iterations of entropic pairing.
    #[arg(long, default_value_t = 100)]
    pub sinkhorn_iters: usize,
    /// Where otcfm's exact pairs are found: auto (the host on a CPU adapter, else the
    /// GPU auction), device or host.
    #[arg(long, default_value = "auto")]
    pub exact_pairing: String,
    /// Also train a score network per model (SF2M, on the same batches): writes
    /// `score.safetensors` and the squared W2 of SDE samples, dx = (v + s) dt + sigma dW.
    #[arg(long)]
    pub score: bool,
    /// σ of the probability path; a comma-separated list trains one model per value in
    /// the same dispatches (a sweep).
    #[arg(long, default_value = "0.01")]
    pub sigma: String,
    /// Width of the hidden layers.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Hidden layers (activations); the network has one more linear layer.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// selu, silu, gelu, tanh, relu, elu or softplus.
    #[arg(long, default_value = "selu")]
    pub activation: String,
    /// Where t enters the input: last (TorchCFM), first or none.
    #[arg(long, default_value = "last")]
    pub time: String,
    /// Hidden layers of equal width add their input.
    #[arg(long)]
    pub residual: bool,
    /// Pairs per batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Optimiser steps (in all, when resuming).
    #[arg(long, default_value_t = 20_000)]
    pub steps: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// AdamW's decoupled weight decay (0: Adam).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Seed of model 0's initial weights and draws (model m: seed + m).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Independent models trained in the same dispatches.
    #[arg(long, default_value_t = 1)]
    pub models: usize,
    /// Write `checkpoints/step_K.safetensors` every K steps.
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue a run from its checkpoint, up to --steps in all.
    #[arg(long, conflicts_with_all = ["source", "target", "method", "eps", "tau", "sinkhorn_iters", "sigma", "width", "depth", "activation", "time", "residual", "batch", "lr", "weight_decay", "seed", "models", "score"])]
    pub resume: Option<PathBuf>,
    /// Samples integrated for `samples.png` and the squared W2 (at most 1024).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Output directory (must be empty or absent unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

fn named<T: serde::de::DeserializeOwned>(flag: &str, value: &str, choices: &str) -> CliResult<T> {
    serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase()))
        .map_err(|_| bad(format!("{flag} {value:?}: use one of {choices}")))
}

fn samplers(args: &TrainArgs) -> CliResult<(Sampler, Sampler)> {
    if let (Some(s), Some(t)) = (&args.source, &args.target) {
        let (points, dim) = read_points("--source", s)?;
        let source = Sampler::Points { points, dim };
        let (points, dim) = read_points("--target", t)?;
        return Ok((source, Sampler::Points { points, dim }));
    }
    let (a, b) = args.task.split_once('-').ok_or_else(|| {
        bad(format!(
            "--task {:?}: write SOURCE-TARGET, e.g. 8gaussians-moons or normal-moons",
            args.task
        ))
    })?;
    let parse = |name: &str| Sampler::from_name(name).map_err(|e| bad(format!("--task: {e}")));
    Ok((parse(a)?, parse(b)?))
}

fn configure(args: &TrainArgs) -> CliResult<(TrainConfig, Sampler, Sampler)> {
    let (source, target) = samplers(args)?;
    let network = NetworkShape {
        width: args.width,
        hidden: args.depth,
        activation: named::<Activation>(
            "--activation",
            &args.activation,
            "selu, silu, gelu, tanh, relu, elu, softplus",
        )?,
        time: named::<TimeInput>("--time", &args.time, "last, first, none")?,
        residual: args.residual,
    };
    let sigmas: Vec<f64> = args
        .sigma
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            bad(format!(
                "--sigma {}: give a number or a comma-separated list",
                args.sigma
            ))
        })?;
    if sigmas.len() > 1 && args.models != 1 && args.models != sigmas.len() {
        return Err(bad(format!(
            "--sigma gives {} values, one model each; --models {} disagrees",
            sigmas.len(),
            args.models
        )));
    }
    let mut config = TrainConfig {
        method: Method::from_name(&args.method).map_err(|e| bad(format!("--method: {e}")))?,
        sigma: sigmas[0],
        batch: args.batch,
        steps: args.steps,
        lr: args.lr,
        weight_decay: args.weight_decay,
        network,
        seed: args.seed,
        models: args.models,
        coupling_eps: args.eps,
        tau: args.tau,
        sinkhorn_iterations: args.sinkhorn_iters,
        score: args.score,
        exact_pairing: match args.exact_pairing.as_str() {
            "auto" => ExactPairing::Auto,
            "device" => ExactPairing::Device,
            "host" => ExactPairing::Host,
            other => {
                return Err(bad(format!(
                    "--exact-pairing {other}: use auto, device or host"
                )))
            }
        },
        ..TrainConfig::default()
    };
    if sigmas.len() > 1 {
        config = config.sigma_sweep(&sigmas);
    }
    if !config.method.entropic_coupling() && (args.eps.is_some() || args.tau.is_some()) {
        return Err(bad(format!(
            "--eps and --tau set the entropic pairing of sbcfm and uotfm, not {}",
            config.method.name()
        )));
    }
    config
        .validate(&source, &target)
        .map_err(|e| bad(e.to_string()))?;
    Ok((config, source, target))
}

/// One row per step: each model's loss, then each score network's.
fn loss_csv(losses: &[f32], models: usize, nets: usize) -> String {
    let mut csv = String::from("step");
    for m in 0..models {
        csv.push_str(&format!(",loss_{m}"));
    }
    for m in 0..nets - models {
        csv.push_str(&format!(",score_loss_{m}"));
    }
    csv.push('\n');
    for (k, row) in losses.chunks(nets).enumerate() {
        csv.push_str(&(k + 1).to_string());
        for v in row {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    csv
}

/// The flows' columns of a loss table that also holds score networks' losses.
fn flow_losses(losses: &[f32], models: usize, nets: usize) -> Vec<f32> {
    losses
        .chunks(nets)
        .flat_map(|row| row[..models].to_vec())
        .collect()
}

/// Runs `morphogen train`.
pub fn run(args: &TrainArgs, common: &Common) -> CliResult<()> {
    if args.checkpoint_every == Some(0) {
        return Err(bad("--checkpoint-every counts steps: at least 1"));
    }
    if args.samples < 2 || args.samples > crate::flow::train::assign::MAX_BATCH {
        return Err(bad(format!(
            "--samples {}: give 2 to {}",
            args.samples,
            crate::flow::train::assign::MAX_BATCH
        )));
    }
    let resumed = match &args.resume {
        Some(path) => {
            if !path.is_file() {
                return Err(bad(format!("--resume {}: no such file", path.display())));
            }
            Some(TrainCheckpoint::load(path).map_err(|e| bad(format!("--resume {e}")))?)
        }
        None => None,
    };
    let ctx = common.context()?;
    let (mut trainer, mut losses) = match &resumed {
        Some(c) => {
            if args.steps as u64 <= c.step {
                return Err(bad(format!(
                    "--steps {} is not beyond the {} steps already taken",
                    args.steps, c.step
                )));
            }
            (Trainer::resume(&ctx, c)?, c.losses.clone())
        }
        None => {
            let (config, source, target) = configure(args)?;
            (Trainer::new(&ctx, &config, &source, &target)?, Vec::new())
        }
    };
    let config = trainer.config().clone();
    let models = config.models;
    let nets = config.nets();
    let out = OutDir::prepare(&args.out, args.force)?;
    let start = trainer.step();
    let remaining = args.steps - start as usize;
    let bar = progress(remaining as u64, "train", common.quiet);
    let started = std::time::Instant::now();
    let every = args.checkpoint_every.unwrap_or(usize::MAX);
    let mut done = 0;
    while done < remaining {
        // Up to the next checkpoint.
        let at = trainer.step() as usize;
        let next = (at / every + 1).saturating_mul(every).min(args.steps);
        let chunk = trainer.train(next - at, &mut |p| {
            bar.set_position(p.step - start);
            bar.set_prefix(format!("loss {:.4}", p.loss[0]));
        })?;
        losses.extend_from_slice(&chunk);
        done = trainer.step() as usize - start as usize;
        if (trainer.step() as usize).is_multiple_of(every) && (trainer.step() as usize) < args.steps
        {
            let dir = out.subdir("checkpoints")?;
            trainer
                .checkpoint(&losses)?
                .save(&dir.join(format!("step_{:07}.safetensors", trainer.step())))?;
            out.write("loss.csv", loss_csv(&losses, models, nets).as_bytes())?;
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    trainer
        .checkpoint(&losses)?
        .save(&out.join("checkpoint.safetensors"))?;
    out.write("loss.csv", loss_csv(&losses, models, nets).as_bytes())?;
    let title = format!(
        "{} on {} pairs per batch, σ = {}, {} steps",
        config.method.name(),
        config.batch,
        config.sigma,
        trainer.step()
    );
    out.figure(
        "loss.png",
        &crate::figures::engines::training_loss(
            &title,
            &flow_losses(&losses, models, nets),
            models,
        )?,
    )?;

    // Save every model (and score network); integrate model 0 from held-out source points.
    for m in 0..models {
        let suffix = if m == 0 {
            String::new()
        } else {
            format!("_{m}")
        };
        let mut networks = vec![("model", trainer.field(m)?)];
        if config.score {
            networks.push(("score", trainer.score_field(m)?));
        }
        for (stem, field) in networks {
            field.save_with_names(
                &out.join(&format!("{stem}{suffix}.safetensors")),
                &out.join(&format!("{stem}{suffix}.json")),
                field.torchcfm_names(),
            )?;
        }
    }
    let evaluation = evaluate(&ctx, &trainer, 0, args.samples)?;
    let (w2, nfe, flow) = (
        evaluation.w2_squared,
        evaluation.evaluations_per_particle,
        &evaluation.flow,
    );
    let d = flow.dim;
    if d >= 2 {
        out.figure(
            "samples.png",
            &crate::figures::engines::trajectories(
                &format!("{title}: dopri5 trajectories, W2² {w2:.3}"),
                flow,
            )?,
        )?;
    }
    let w2_sde = if config.score {
        Some(evaluate_sde(&ctx, &trainer, 0, args.samples, 100)?)
    } else {
        None
    };
    let tail = |n: usize| {
        let steps = losses.len() / nets;
        let window = steps.min(100);
        (steps - window..steps)
            .map(|k| f64::from(losses[k * nets + n]))
            .sum::<f64>()
            / window.max(1) as f64
    };
    let plan_error = trainer.plan_pairs()?.map(|(_, e)| e);
    let summary = json!({
        "command": "train",
        "plan_marginal_error": plan_error,
        "method": config.method.name(),
        "sigma": config.sigma,
        "sigmas": (0..models).map(|m| config.sigma_of(m)).collect::<Vec<_>>(),
        "batch": config.batch,
        "steps": trainer.step(),
        "models": models,
        "parameters": trainer.layout().params,
        "seed": config.seed,
        "final_loss": (0..models).map(tail).collect::<Vec<_>>(),
        "score": config.score,
        "final_score_loss": config.score.then(|| (models..nets).map(tail).collect::<Vec<_>>()),
        "w2_squared": w2,
        "w2_squared_sde": w2_sde,
        "w2_samples": args.samples,
        "nfe_dopri5": nfe,
        "dispatches_per_step": trainer.dispatches_per_step(),
        "train_seconds": seconds,
        "steps_per_second": (trainer.step() - start) as f64 / seconds,
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!("wrote {}", out.path().display());
    }
    Ok(())
}
