//! Flow benchmark: particles pushed from t = 0 to 1 through a network, against diffrax
//! (jit, vmapped, same machine) at the same tolerances, and as a fraction of this
//! adapter's measured FMA rate.
//!
//! ```text
//! benches/peers/setup.sh                 # once: diffrax (JAX) in benches/peers/.venv
//! cargo bench --bench flow               # N in {1e4, 1e5, 1e6}; TorchCFM's MLP (d = 2) and a 4x256 SiLU net (d = 64)
//! cargo bench --bench flow -- --sizes 10000 --nets small --budget 300 --no-peers --slots 2
//! cargo bench --bench flow -- --sizes 10000 --nets large --no-subgroups   # wide layers without subgroup broadcasts
//! ```
//!
//! Tsit5 with rtol = atol = 1e-5 for everyone. The error is the largest distance at t = 1
//! to a tight float64 diffrax solution (rtol = atol = 1e-10) over the first 256
//! particles. Dopri5 runs twice more on the same particles, with per-particle steps and
//! with one shared step (torchdiffeq's batch RMS), for their evaluations per particle. Results also go to `flow.json` in `MORPHOGEN_BENCH_OUT`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;

use common::{network, Flags, Rng, Setup};
use morphogen::flow::{self, FlowConfig, Solver};
use serde_json::{json, Value};

struct Args {
    sizes: Vec<usize>,
    nets: Vec<String>,
    budget: f64,
    peers: bool,
    /// Particles per invocation (0: the engine's choice).
    slots: usize,
    /// Wide layers read every weight in every invocation (no subgroup broadcasts).
    no_subgroups: bool,
}

fn parse_args() -> Args {
    let flags = Flags::from_env();
    Args {
        sizes: flags.list("--sizes", vec![10_000, 100_000, 1_000_000]),
        nets: flags.list("--nets", vec!["small".into(), "large".into()]),
        budget: flags.get("--budget", 120.0),
        peers: !flags.has("--no-peers"),
        slots: flags.get("--slots", 0),
        no_subgroups: flags.has("--no-subgroups"),
    }
}

fn worst_error(states: &[f32], d: usize, reference: &[Vec<f64>]) -> f64 {
    reference
        .iter()
        .enumerate()
        .map(|(p, want)| {
            (0..d)
                .map(|k| (f64::from(states[p * d + k]) - want[k]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0, f64::max)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let Setup {
        ctx,
        peaks,
        python,
        tmp,
    } = Setup::new("flow", args.peers)?;
    println!(
        "\n{:>6} {:>8} | {:>9} {:>8} {:>10} {:>9} {:>6} | {:>9} {:>8} {:>9} | {:>8} | {:>9} {:>9} | {:>8}",
        "net",
        "N",
        "time",
        "evals/p",
        "p*steps/s",
        "error",
        "%fma",
        "diffrax",
        "evals/p",
        "error",
        "x diffrax",
        "dopri5 e/p",
        "shared e/p",
        "warm-up"
    );
    let mut rows = Vec::new();
    let mut rng = Rng(2026);
    for net_name in &args.nets {
        let field = network(net_name, &mut rng);
        let d = field.dim;
        let weights = tmp.join(format!("{net_name}.safetensors"));
        let spec = tmp.join(format!("{net_name}.json"));
        field.save(&weights, &spec)?;
        let fmas_per_eval: usize = field.layers.iter().map(|l| l.inputs * l.outputs).sum();
        let mut seconds_per_particle: Option<f64> = None;
        for &n in &args.sizes {
            if let Some(s) = seconds_per_particle {
                if s * n as f64 > args.budget {
                    println!("{net_name:>6} {n:>8} | skipped: about {:.0} s here, beyond the {:.0} s budget", s * n as f64, args.budget);
                    continue;
                }
            }
            let x0: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
            let config = FlowConfig::default()
                .solver(Solver::Tsit5)
                .tolerances(1e-5, 1e-5)
                .slots(args.slots)
                .subgroups(!args.no_subgroups);
            // Warm up the pipelines on a few particles (the first size of a network builds
            // them: its warm-up time is the pipeline's compile), then time the whole set.
            let warm = Instant::now();
            flow::integrate(&ctx, &field, &x0[..d * 64], &[], &config)?;
            let warmup = warm.elapsed().as_secs_f64();
            let start = Instant::now();
            let out = flow::integrate(&ctx, &field, &x0, &[], &config)?;
            let seconds = start.elapsed().as_secs_f64();
            seconds_per_particle = Some(seconds / n as f64);
            let evals = out.evaluations.iter().map(|&e| f64::from(e)).sum::<f64>() / n as f64;
            let steps = out.accepted.iter().map(|&e| f64::from(e)).sum::<f64>();
            let fma_frac = evals * n as f64 * fmas_per_eval as f64 / seconds / peaks.fma_per_s;
            let k = n.min(256);
            // Evaluations of Dopri5 with per-particle steps and with one shared step (the
            // batch RMS of torchdiffeq), on the same particles.
            let mean_evals = |r: &flow::FlowResult| {
                r.evaluations.iter().map(|&e| f64::from(e)).sum::<f64>() / r.particles as f64
            };
            let dopri = config.clone().solver(Solver::Dopri5);
            let own_evals = mean_evals(&flow::integrate(&ctx, &field, &x0, &[], &dopri)?);
            let shared_evals = mean_evals(&flow::integrate(
                &ctx,
                &field,
                &x0,
                &[],
                &dopri.shared_step(true),
            )?);
            let peer: Option<Value> =
                if let Some(python) = python.filter(|_| seconds * 3.0 < args.budget * 4.0) {
                    let x_path = tmp.join(format!("x0_{net_name}_{n}.npy"));
                    morphogen::io::npy::write(&x_path, &x0, &[n, d])?;
                    let output = Command::new(python)
                        .arg("benches/peers/flow_peers.py")
                        .arg(&weights)
                        .arg(&spec)
                        .arg(&x_path)
                        .args([
                            "--solver",
                            "tsit5",
                            "--rtol",
                            "1e-5",
                            "--atol",
                            "1e-5",
                            "--reference-count",
                            &k.to_string(),
                        ])
                        .output()?;
                    if output.status.success() {
                        serde_json::from_str(
                            String::from_utf8_lossy(&output.stdout)
                                .lines()
                                .last()
                                .unwrap_or(""),
                        )
                        .ok()
                    } else {
                        eprintln!(
                            "diffrax failed: {}",
                            String::from_utf8_lossy(&output.stderr)
                                .lines()
                                .last()
                                .unwrap_or("")
                        );
                        None
                    }
                } else {
                    None
                };
            // The reference: diffrax's tight float64 solve, else our own f64 reference.
            let reference: Vec<Vec<f64>> =
                match peer.as_ref().and_then(|p| p["reference"].as_array()) {
                    Some(r) => r
                        .iter()
                        .map(|row| {
                            row.as_array()
                                .map(|v| v.iter().filter_map(Value::as_f64).collect())
                                .unwrap_or_default()
                        })
                        .collect(),
                    None => {
                        let tight = flow::integrate_cpu(
                            &field,
                            &x0[..k.min(32) * d],
                            &[],
                            &config.clone().tolerances(1e-10, 1e-10),
                        )?;
                        tight
                            .states
                            .chunks(d)
                            .map(|c| c.iter().map(|&v| f64::from(v)).collect())
                            .collect()
                    }
                };
            let error = worst_error(&out.states, d, &reference);
            let peer_seconds = peer.as_ref().and_then(|p| p["seconds"].as_f64());
            let peer_evals = peer
                .as_ref()
                .and_then(|p| p["evaluations_per_particle"].as_f64());
            let peer_error = peer.as_ref().and_then(|p| p["states"].as_array()).map(|s| {
                let states: Vec<f32> = s
                    .iter()
                    .flat_map(|r| {
                        r.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_f64)
                            .map(|v| v as f32)
                    })
                    .collect();
                worst_error(&states, d, &reference)
            });
            let show = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
            println!(
                "{net_name:>6} {n:>8} | {:>8.2}s {:>8.1} {:>10.3e} {:>9.2e} {:>5.1}% | {:>9} {:>8} {:>9} | {:>8} | {:>9.1} {:>9.1} | {:>7.2}s",
                seconds,
                evals,
                steps / seconds,
                error,
                100.0 * fma_frac,
                show(peer_seconds, &|s| format!("{s:.2}s")),
                show(peer_evals, &|e| format!("{e:.1}")),
                show(peer_error, &|e| format!("{e:.2e}")),
                show(peer_seconds, &|s| format!("{:.2}x", s / seconds)),
                own_evals,
                shared_evals,
                warmup,
            );
            rows.push(json!({
                "net": net_name, "particles": n, "seconds": seconds, "evaluations_per_particle": evals,
                "particle_steps_per_s": steps / seconds, "error": error, "fraction_of_fma_limit": fma_frac,
                "dopri5_evaluations_per_particle": own_evals,
                "shared_step_dopri5_evaluations_per_particle": shared_evals,
                "warmup_seconds": warmup, "slots": args.slots, "subgroups": !args.no_subgroups,
                "diffrax": peer.as_ref().map(|p| json!({"seconds": p["seconds"], "evaluations_per_particle": p["evaluations_per_particle"], "error": peer_error})),
            }));
        }
    }
    println!("\nx diffrax: diffrax time / morphogen time (above 1: morphogen faster). Errors: largest distance at t = 1 to a tight f64 solution over the first 256 particles. Warm-up: 64 particles, the pipeline's compile included on a network's first size (Mesa caches shaders on disk: clear ~/.cache/mesa_shader_cache* to time a cold compile).");
    let _ = std::fs::remove_dir_all(&tmp);
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        let summary = json!({"adapter": ctx.adapter().to_string(), "fma_per_s": peaks.fma_per_s, "rows": rows});
        std::fs::write(
            Path::new(&dir).join("flow.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
    }
    Ok(())
}
