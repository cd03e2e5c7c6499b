//! SDE and weighted-particle benchmark: particles pushed from t = 0 to 1 through
//! dx = v dt + σ dW (TorchCFM's MLP as v) with fixed steps, against diffrax's Euler and
//! SRA1 (jit, vmapped, same machine), with and without a growth head (log-weights), and K
//! branches in one dispatch; as particle-steps per second and as a fraction of this
//! adapter's measured FMA rate.
//!
//! ```text
//! benches/peers/setup.sh                    # once: diffrax (JAX) in benches/peers/.venv
//! cargo bench --bench flow_sde              # N in {1e4, 1e5}, 100 steps, sigma 0.5
//! cargo bench --bench flow_sde -- --sizes 10000 --steps 50 --no-peers
//! ```
//!
//! The Brownian paths differ between the programs, so agreement is statistical: the
//! largest z-score of the difference of the final means (per component, log w included)
//! and the largest ratio of the variances. Results also go to `flow_sde.json` in
//! `MORPHOGEN_BENCH_OUT`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{growth_head, network, Flags, Rng, Setup};
use morphogen::flow::sde::{self, Branch, Diffusion, SdeConfig, SdeSolver};
use serde_json::{json, Value};

struct Args {
    sizes: Vec<usize>,
    steps: usize,
    sigma: f64,
    peers: bool,
}

fn parse_args() -> Args {
    let flags = Flags::from_env();
    Args {
        sizes: flags.list("--sizes", vec![10_000, 100_000]),
        steps: flags.get("--steps", 100),
        sigma: flags.get("--sigma", 0.5),
        peers: !flags.has("--no-peers"),
    }
}

/// Mean and variance per component of the final states (and log w) of branch 0.
fn moments(out: &sde::SdeResult) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (out.particles, out.dim);
    let last = out.times.len() - 1;
    let mut columns: Vec<Vec<f64>> = (0..d)
        .map(|c| {
            (0..n)
                .map(|p| f64::from(out.state(last, 0, p)[c]))
                .collect()
        })
        .collect();
    if out.weights.is_some() {
        columns.push(
            (0..n)
                .map(|p| f64::from(out.weight(last, 0, p)).ln())
                .collect(),
        );
    }
    columns
        .iter()
        .map(|col| {
            let mean = col.iter().sum::<f64>() / n as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (mean, var)
        })
        .unzip()
}

/// Largest |Δmean| / standard error and largest variance ratio (≥ 1) over components.
fn agreement(ours: &(Vec<f64>, Vec<f64>), peer: &Value, n: usize) -> (f64, f64) {
    let theirs = |key: &str| -> Vec<f64> {
        peer[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (mean, var) = (theirs("mean"), theirs("var"));
    let mut z: f64 = 0.0;
    let mut ratio: f64 = 1.0;
    for c in 0..ours.0.len().min(mean.len()) {
        let se = ((ours.1[c] + var[c]) / n as f64).sqrt();
        z = z.max((ours.0[c] - mean[c]).abs() / se.max(1e-300));
        let r = ours.1[c] / var[c];
        ratio = ratio.max(r.max(1.0 / r));
    }
    (z, ratio)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let Setup {
        ctx,
        peaks,
        python,
        tmp,
    } = Setup::new("sde", args.peers)?;
    let mut rng = Rng(2026);
    let field = network("small", &mut rng);
    let growth = growth_head(field.dim, &mut rng);
    let d = field.dim;
    let (v_path, v_spec) = (tmp.join("v.safetensors"), tmp.join("v.json"));
    let (g_path, g_spec) = (tmp.join("g.safetensors"), tmp.join("g.json"));
    field.save(&v_path, &v_spec)?;
    growth.save(&g_path, &g_spec)?;
    let fmas = |f: &morphogen::flow::VelocityField| -> usize {
        f.layers.iter().map(|l| l.inputs * l.outputs).sum()
    };
    println!(
        "\nsigma {}, {} steps on [0, 1]; drift: TorchCFM MLP (3-64-64-64-2 SELU); growth head 3-64-64-1\n",
        args.sigma, args.steps
    );
    println!(
        "{:>16} {:>8} | {:>9} {:>11} {:>6} | {:>9} {:>11} {:>9} | {:>7} {:>9}",
        "case",
        "N",
        "time",
        "p*steps/s",
        "%fma",
        "diffrax",
        "p*steps/s",
        "x diffrax",
        "max z",
        "var ratio"
    );
    let cases: [(&str, SdeSolver, bool, usize); 5] = [
        ("em", SdeSolver::EulerMaruyama, false, 1),
        ("sra1", SdeSolver::Sra1, false, 1),
        ("em+growth", SdeSolver::EulerMaruyama, true, 1),
        ("sra1+growth", SdeSolver::Sra1, true, 1),
        ("sra1+growth K=4", SdeSolver::Sra1, true, 4),
    ];
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let x0: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let x_path = tmp.join(format!("x0_{n}.npy"));
        morphogen::io::npy::write(&x_path, &x0, &[n, d])?;
        for (name, solver, weighted, k) in cases {
            // Branch 0 holds the networks diffrax sees; further branches get their own
            // random networks, as distinct fates would.
            let branches: Vec<Branch> = (0..k)
                .map(|b| {
                    let (v, g) = if b == 0 {
                        (field.clone(), growth.clone())
                    } else {
                        (network("small", &mut rng), growth_head(d, &mut rng))
                    };
                    let branch = Branch::new(v);
                    if weighted {
                        branch.growth(g)
                    } else {
                        branch
                    }
                })
                .collect();
            let config = SdeConfig::default()
                .solver(solver)
                .diffusion(Diffusion::Constant(args.sigma))
                .steps(args.steps)
                .seed(11);
            sde::simulate(&ctx, &branches, &x0[..64 * d], &[], &[], &config)?;
            let start = Instant::now();
            let out = sde::simulate(&ctx, &branches, &x0, &[], &[], &config)?;
            let seconds = start.elapsed().as_secs_f64();
            let particle_steps = (n * k * args.steps) as f64;
            let per_eval = fmas(&field) + if weighted { fmas(&growth) } else { 0 };
            let fma_frac = particle_steps * solver.stages() as f64 * per_eval as f64
                / seconds
                / peaks.fma_per_s;
            let ours = moments(&out);
            let peer: Option<Value> = python.filter(|_| k == 1).and_then(|python| {
                let mut cmd = Command::new(python);
                cmd.arg("benches/peers/sde_peers.py")
                    .arg(&v_path)
                    .arg(&v_spec)
                    .arg(&x_path)
                    .args([
                        "--solver",
                        if solver == SdeSolver::Sra1 {
                            "sra1"
                        } else {
                            "euler"
                        },
                    ])
                    .args(["--sigma", &args.sigma.to_string()])
                    .args(["--steps", &args.steps.to_string()]);
                if weighted {
                    cmd.arg("--growth").arg(&g_path).arg(&g_spec);
                }
                let output = cmd.output().ok()?;
                if !output.status.success() {
                    println!(
                        "diffrax failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                    );
                    return None;
                }
                serde_json::from_slice(&output.stdout).ok()
            });
            let peer_seconds = peer.as_ref().and_then(|p| p["seconds"].as_f64());
            let (z, ratio) = peer
                .as_ref()
                .map_or((f64::NAN, f64::NAN), |p| agreement(&ours, p, n));
            let show = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
            println!(
                "{name:>16} {n:>8} | {:>8.2}s {:>11.3e} {:>5.1}% | {:>9} {:>11} {:>9} | {:>7.2} {:>9.3}",
                seconds,
                particle_steps / seconds,
                100.0 * fma_frac,
                show(peer_seconds, &|s| format!("{s:.2}s")),
                show(peer_seconds, &|s| format!("{:.3e}", particle_steps / s)),
                show(peer_seconds, &|s| format!("{:.2}x", s / seconds)),
                z,
                ratio,
            );
            rows.push(json!({
                "case": name, "particles": n, "branches": k, "steps": args.steps, "seconds": seconds,
                "particle_steps_per_s": particle_steps / seconds, "fraction_of_fma_limit": fma_frac,
                "diffrax_seconds": peer_seconds, "max_mean_z": z, "max_variance_ratio": ratio,
            }));
        }
    }
    println!("\nx diffrax: diffrax time / morphogen time (above 1: morphogen faster). max z: largest |mean difference| / standard error over the final components (log w included); var ratio: largest variance ratio. K=4: four branches with their own networks in one dispatch (p*steps counts every branch).");
    let _ = std::fs::remove_dir_all(&tmp);
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        let summary = json!({"adapter": ctx.adapter().to_string(), "fma_per_s": peaks.fma_per_s, "rows": rows});
        std::fs::write(
            Path::new(&dir).join("flow_sde.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
    }
    Ok(())
}
