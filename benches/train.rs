//! Training benchmark: flow-matching steps per second on this adapter for TorchCFM's MLP
//! (2-D, width 64, eight Gaussians to moons), with no coupling (I-CFM) and exact OT pairs
//! (OT-CFM: from the GPU auction, and from the host's between each step's draw and
//! training) and pairs drawn from an entropic plan (SB-CFM, σ = 0.1), batch 256 and 1024, one model and 16 side by side; the multiply-add rate of
//! the backward pass as a fraction of the adapter's measured FMA peak; TorchCFM's own
//! loop on the same machine (torch on the CPU, POT's network simplex for the pairs) where
//! installed; and the steps and seconds until the squared W2 of Dopri5 samples to held-out
//! moons falls below 0.2.
//!
//! ```text
//! benches/peers/.venv/bin/pip install -r benches/peers/torchcfm_requirements.txt   # once
//! cargo bench --bench train
//! cargo bench --bench train -- --batches 256 --models 1 --steps 100 --no-peers --no-w2
//! ```
//! Each case times up to `--steps` steps (default 200) within `--budget` seconds (30).
//! Results also go to `train.json` in `MORPHOGEN_BENCH_OUT`.

use std::process::Command;
use std::time::Instant;

mod common;

use common::{Flags, Setup};
use morphogen::flow::train::{
    assign_host, evaluate, reference, ExactPairing, Layout, Method, Sampler, TrainConfig, Trainer,
};
use serde_json::{json, Value};

fn torchcfm(
    python: &std::path::Path,
    method: Method,
    batch: usize,
    steps: usize,
    sigma: f64,
) -> Option<Value> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    common::peer_json(Command::new(python).args([
        "benches/peers/torchcfm_train.py",
        "--sigma",
        &sigma.to_string(),
        "--method",
        method.name(),
        "--batch",
        &batch.to_string(),
        "--steps",
        &steps.to_string(),
        "--warmup",
        "10",
        "--threads",
        &threads.to_string(),
    ]))
}

/// Milliseconds the host's exact pairing takes per step for `models` batches of `batch`
/// pairs (eight Gaussians to moons), over a few batches.
fn host_pairing_ms(batch: usize, models: usize) -> f64 {
    let reps = 5;
    let batches: Vec<(Vec<f32>, Vec<f32>)> = (0..reps as u64)
        .map(|k| {
            (
                reference::sample(&Sampler::EightGaussians, batch, 100 + k),
                reference::sample(&Sampler::Moons, batch, 200 + k),
            )
        })
        .collect();
    let started = Instant::now();
    for (x0, x1) in &batches {
        for _ in 0..models {
            std::hint::black_box(assign_host(x0, x1, 2));
        }
    }
    started.elapsed().as_secs_f64() * 1e3 / reps as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::from_env();
    let batches: Vec<usize> = flags.list("--batches", vec![256, 1024]);
    let model_counts: Vec<usize> = flags.list("--models", vec![1, 16]);
    let steps: usize = flags.get("--steps", 200);
    let budget: f64 = flags.get("--budget", 30.0);
    let peers = !flags.has("--no-peers");
    let setup = Setup::new("train", peers)?;
    let ctx = &setup.ctx;
    let python = setup.python.filter(|p| {
        Command::new(p)
            .args(["-c", "import torch, torchcfm, ot"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if peers && python.is_none() {
        println!("peers: torch/torchcfm not in benches/peers/.venv (see benches/peers/torchcfm_requirements.txt)");
    }
    let (src, dst) = (Sampler::EightGaussians, Sampler::Moons);
    println!(
        "{:>10} {:>6} {:>6} | {:>9} {:>11} {:>7} {:>8} {:>9} | {:>9} {:>7}",
        "method",
        "batch",
        "models",
        "steps/s",
        "model-st/s",
        "%fma",
        "bwd %fma",
        "pair ms",
        "torchcfm",
        "ratio"
    );
    let mut rows = Vec::new();
    for &batch in &batches {
        for &models in &model_counts {
            // OT-CFM with its exact pairs from the GPU auction and from the host's; SB-CFM
            // with pairs from the entropic plan at sigma = 0.1 (eps = 2 sigma^2 = 0.02: at
            // the tutorial's sigma = 0.01 POT's Sinkhorn underflows).
            for (method, pairing) in [
                (Method::Icfm, ExactPairing::Auto),
                (Method::Otcfm, ExactPairing::Device),
                (Method::Otcfm, ExactPairing::Host),
                (Method::Sbcfm, ExactPairing::Auto),
            ] {
                let sigma = if method == Method::Sbcfm { 0.1 } else { 0.01 };
                let config = TrainConfig::default()
                    .method(method)
                    .sigma(sigma)
                    .batch(batch)
                    .models(models)
                    .steps(steps)
                    .exact_pairing(pairing);
                let name = match (method, pairing) {
                    (Method::Otcfm, ExactPairing::Device) => "otcfm/gpu",
                    (Method::Otcfm, _) => "otcfm/host",
                    _ => method.name(),
                };
                let mut trainer = match Trainer::new(ctx, &config, &src, &dst) {
                    Ok(t) => t,
                    Err(e) => {
                        println!("{name:>10} {batch:>6} {models:>6} | skipped: {e}");
                        continue;
                    }
                };
                trainer.train(2, &mut |_| {})?;
                // Up to `steps` steps, stopping once the budget is spent.
                let started = Instant::now();
                let mut timed = 0;
                while timed < steps && started.elapsed().as_secs_f64() < budget {
                    let n = (steps - timed).min(10);
                    trainer.train(n, &mut |_| {})?;
                    timed += n;
                }
                let seconds = started.elapsed().as_secs_f64();
                let rate = timed as f64 / seconds;
                let profile = trainer.profile_steps(timed.clamp(2, 20))?;
                let kernel = |name: &str| {
                    profile
                        .by_kernel
                        .iter()
                        .filter(|(k, _)| k.ends_with(name))
                        .map(|(_, s)| s / profile.steps as f64)
                        .sum::<f64>()
                };
                let layout: &Layout = trainer.layout();
                let rows_per_step = (batch * models) as f64;
                let forward = layout.forward_fmas() as f64 * rows_per_step;
                let first = &layout.layers[0];
                let backward =
                    (layout.forward_fmas() - first.inputs * first.outputs) as f64 * rows_per_step;
                let grads: f64 = layout
                    .layers
                    .iter()
                    .map(|l| ((l.inputs + 1) * l.outputs) as f64)
                    .sum::<f64>()
                    * rows_per_step;
                let fma_frac = (forward + backward + grads) * rate / setup.peaks.fma_per_s;
                let bwd_seconds = kernel(".backward") + kernel(".grad");
                let bwd_frac = (bwd_seconds > 0.0)
                    .then(|| (backward + grads) / bwd_seconds / setup.peaks.fma_per_s);
                let pair_ms = match pairing {
                    ExactPairing::Host => host_pairing_ms(batch, models),
                    _ if method == Method::Sbcfm => kernel(".sinkhorn") * 1e3,
                    _ => kernel(".auction") * 1e3,
                };
                // The peer runs once per method (and batch).
                // No peer for SB-CFM: TorchCFM's entropic plan is POT's Sinkhorn at
                // reg = 2 sigma^2, which underflows on these costs (up to ~100) and reverts
                // to the uniform plan with a warning: its rate would be the I-CFM loop's.
                let peer = match python {
                    Some(p)
                        if models == 1
                            && pairing != ExactPairing::Host
                            && method != Method::Sbcfm =>
                    {
                        torchcfm(p, method, batch, timed.clamp(20, 300), sigma)
                    }
                    _ => None,
                };
                let peer = peer.or_else(|| {
                    (pairing == ExactPairing::Host)
                        .then(|| rows.last().and_then(|r: &Value| r.get("torchcfm").cloned()))
                        .flatten()
                        .filter(|v| !v.is_null())
                });
                let peer_rate = peer.as_ref().and_then(|v| v["steps_per_second"].as_f64());
                println!(
                    "{name:>10} {batch:>6} {models:>6} | {rate:>9.1} {:>11.1} {:>7.2} {:>8} {:>9} | {:>9} {:>7}",
                    rate * models as f64,
                    100.0 * fma_frac,
                    bwd_frac.map_or("-".into(), |f| format!("{:.2}", 100.0 * f)),
                    if method == Method::Icfm { "-".into() } else { format!("{pair_ms:.2}") },
                    peer_rate.map_or("-".into(), |r| format!("{r:.1}")),
                    peer_rate.map_or("-".into(), |r| format!("{:.2}x", rate / r)),
                );
                rows.push(json!({
                    "method": method.name(), "pairing": name, "batch": batch, "models": models,
                    "steps_timed": timed, "steps_per_s": rate, "model_steps_per_s": rate * models as f64,
                    "fraction_of_fma_peak": fma_frac, "backward_fraction_of_fma_peak": bwd_frac,
                    "pairing_ms_per_step": (method != Method::Icfm).then_some(pair_ms),
                    "sigma": sigma,
                    "dispatches_per_step": profile.dispatches_per_step,
                    "overhead_fraction": profile.overhead_fraction(),
                    "by_kernel_ms_per_step": profile.by_kernel.iter().map(|(k, s)| json!([k, s * 1e3 / profile.steps as f64])).collect::<Vec<_>>(),
                    "torchcfm": peer,
                }));
            }
        }
    }

    // Time to quality: OT-CFM at batch 256 until the squared W2 of 1000 Dopri5 samples to
    // held-out moons is below 0.2 (evaluation time not counted).
    let mut to_w2 = Value::Null;
    if !flags.has("--no-w2") {
        let max_steps: usize = flags.get("--w2-steps", 6000);
        let every: usize = flags.get("--w2-every", 500);
        let config = TrainConfig::default()
            .method(Method::Otcfm)
            .steps(max_steps);
        let mut trainer = Trainer::new(ctx, &config, &src, &dst)?;
        let mut seconds = 0.0;
        let mut history = Vec::new();
        while (trainer.step() as usize) < max_steps {
            let started = Instant::now();
            trainer.train(every, &mut |_| {})?;
            seconds += started.elapsed().as_secs_f64();
            let w2 = evaluate(ctx, &trainer, 0, 1000)?.w2_squared;
            println!(
                "OT-CFM step {:>6}: W2² {w2:.4} after {seconds:.1} s of training",
                trainer.step()
            );
            history.push(json!({"step": trainer.step(), "seconds": seconds, "w2_squared": w2}));
            if w2 < 0.2 {
                break;
            }
        }
        to_w2 = json!({"threshold": 0.2, "history": history});
    }
    let summary = json!({
        "adapter": ctx.adapter().to_string(),
        "fma_per_s": setup.peaks.fma_per_s,
        "rows": rows,
        "time_to_w2": to_w2,
    });
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        std::fs::write(
            std::path::Path::new(&dir).join("train.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
    }
    Ok(())
}
