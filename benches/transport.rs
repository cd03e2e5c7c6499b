//! Sinkhorn benchmark: time per iteration and time to a marginal error of 1e-3, against
//! POT (`sinkhorn_log`) and OTT-JAX (jit) measured in the same run on the same machine,
//! and as a fraction of this adapter's measured exp2/s and FMA/s.
//!
//! ```text
//! benches/peers/setup.sh                       # once: POT and OTT-JAX in a venv
//! cargo bench --bench transport                # n = m in {1000, 4000, 16000, 100000}, d in {2, 64}
//! cargo bench --bench transport -- --sizes 4000 --dims 2 --budget 600 --no-peers
//! cargo bench --bench transport -- --sizes 4000 --dims 2 --eps-rel 0.005   # where acceleration pays
//! ```
//!
//! Problems: x ~ U[0,1]^d, y ~ U[0,1]^d + 0.1, uniform weights, squared Euclidean cost,
//! ε = 0.05 × mean cost (`--eps-rel`). To the tolerance, also with adaptive momentum and with
//! Anderson acceleration (memory 5), against OTT-JAX with the same Anderson settings. A configuration whose predicted time exceeds the budget (seconds,
//! default 90 per solver and size) is skipped and says so. Results also go to
//! `transport.json` in `MORPHOGEN_BENCH_OUT` when that is set.

mod common;
use common::Flags;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use morphogen::gpu::{measure_peaks, AdapterPeaks, GpuContext};
use morphogen::transport::{self, Anderson, CostStorage, PointCloud, Problem, SinkhornConfig};
use serde_json::{json, Value};

struct Args {
    sizes: Vec<usize>,
    dims: Vec<usize>,
    budget: f64,
    peers: bool,
    eps_rel: f64,
}

fn parse_args() -> Args {
    let flags = Flags::from_env();
    Args {
        sizes: flags.list("--sizes", vec![1000, 4000, 16000, 100_000]),
        dims: flags.list("--dims", vec![2, 64]),
        budget: flags.get("--budget", 90.0),
        peers: !flags.has("--no-peers"),
        eps_rel: flags.get("--eps-rel", 0.05),
    }
}

/// SplitMix64 uniforms in [0, 1).
fn uniform(seed: u64, len: usize, shift: f32) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 + shift
        })
        .collect()
}

/// A float32 .npy file of shape (n, d), for the peers.
fn write_npy(path: &Path, data: &[f32], n: usize, d: usize) -> std::io::Result<()> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes)
}

struct Ours {
    per_iter: f64,
    /// (seconds, iterations, converged): plain Sinkhorn, with adaptive momentum, with
    /// Anderson acceleration.
    to_tol: Option<(f64, usize, bool)>,
    to_tol_adaptive: Option<(f64, usize, bool)>,
    to_tol_anderson: Option<(f64, usize, bool)>,
}

/// The Anderson settings of the benchmark (OTT-JAX runs the same).
const ANDERSON_MEMORY: usize = 5;

fn time_ours(
    ctx: &GpuContext,
    p: &Problem,
    eps: f32,
    budget: f64,
    guess: f64,
    storage: CostStorage,
) -> morphogen::Result<Ours> {
    // Per iteration: the difference of two fixed-length runs removes upload and readback.
    let fixed = |iters: usize| -> morphogen::Result<f64> {
        let start = Instant::now();
        transport::solve(
            ctx,
            p,
            &SinkhornConfig::default()
                .eps(eps)
                .threshold(0.0)
                .max_iter(iters)
                .cost_storage(storage),
        )?;
        Ok(start.elapsed().as_secs_f64())
    };
    let (short, long) = if guess * 30.0 > budget {
        (1, 3)
    } else {
        (10, 30)
    };
    fixed(short.min(2))?; // compile and warm the pool
    let t_short = fixed(short)?;
    let t_long = fixed(long)?;
    let per_iter = ((t_long - t_short) / (long - short) as f64).max(1e-9);
    // To tolerance, the way a user calls it: default checks every 10.
    let to_tol = |config: SinkhornConfig| -> morphogen::Result<Option<(f64, usize, bool)>> {
        if per_iter * 150.0 > budget {
            return Ok(None);
        }
        let start = Instant::now();
        let s = transport::solve(ctx, p, &config)?;
        Ok(Some((
            start.elapsed().as_secs_f64(),
            s.iterations,
            s.converged,
        )))
    };
    let base = SinkhornConfig::default()
        .eps(eps)
        .threshold(1e-3)
        .max_iter(5000)
        .cost_storage(storage);
    let plain = to_tol(base.clone())?;
    let adaptive = to_tol(base.clone().adaptive_momentum())?;
    // Compile the Anderson kernels outside the timing, as the update kernels are above.
    let accelerated = base.anderson(Anderson::with_memory(ANDERSON_MEMORY));
    transport::solve(
        ctx,
        p,
        &accelerated
            .clone()
            .threshold(0.0)
            .max_iter(ANDERSON_MEMORY + 3),
    )?;
    let anderson = to_tol(accelerated)?;
    Ok(Ours {
        per_iter,
        to_tol: plain,
        to_tol_adaptive: adaptive,
        to_tol_anderson: anderson,
    })
}

#[expect(clippy::too_many_arguments, reason = "one call site, plain values")]
fn run_peers(
    dir: &Path,
    x: &[f32],
    y: &[f32],
    n: usize,
    d: usize,
    eps: f64,
    skip_pot: bool,
    skip_ott: bool,
    iters: usize,
) -> Option<Value> {
    let python = Path::new("benches/peers/.venv/bin/python");
    if !python.exists() || (skip_pot && skip_ott) {
        return None;
    }
    let (xp, yp) = (
        dir.join(format!("x_{n}_{d}.npy")),
        dir.join(format!("y_{n}_{d}.npy")),
    );
    write_npy(&xp, x, n, d).ok()?;
    write_npy(&yp, y, n, d).ok()?;
    let mut cmd = Command::new(python);
    cmd.arg("benches/peers/sinkhorn_peers.py")
        .arg(&xp)
        .arg(&yp)
        .arg(eps.to_string());
    cmd.args(["--tol", "1e-3", "--iters", &iters.to_string()]);
    cmd.args(["--anderson", &ANDERSON_MEMORY.to_string()]);
    if skip_pot {
        cmd.arg("--skip-pot");
    }
    if skip_ott {
        cmd.arg("--skip-ott");
    }
    common::peer_json(&mut cmd)
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| {
        if s < 1.0 {
            format!("{:.1}ms", s * 1e3)
        } else {
            format!("{s:.2}s")
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let ctx = GpuContext::new()?;
    let peaks: AdapterPeaks = measure_peaks(&ctx)?;
    println!("adapter: {}", ctx.adapter());
    println!(
        "measured limits ({}): exp2 {:.2} G/s, fma {:.2} G/s, bandwidth {:.2} GB/s",
        peaks.clock,
        peaks.exp_per_s / 1e9,
        peaks.fma_per_s / 1e9,
        peaks.bytes_per_s / 1e9
    );
    let peers_available = args.peers && Path::new("benches/peers/.venv/bin/python").exists();
    if args.peers && !peers_available {
        println!("peers: benches/peers/.venv missing (run benches/peers/setup.sh); timing morphogen alone");
    }
    let tmp: PathBuf = std::env::temp_dir().join(format!("morphogen-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut rows = Vec::new();
    println!(
        "\n{:>7} {:>3} {:>6} {:>8} | {:>9} {:>5} {:>9} {:>8} {:>6} {:>6} | {:>9} {:>9} | {:>9} {:>9} | {:>8} {:>8}",
        "n=m", "d", "costs", "eps", "to 1e-3", "iters", "per iter", "Gent/s", "%exp", "%fma", "POT/it", "POT tol", "OTT/it", "OTT tol", "xOTT/it", "xOTT tol"
    );
    let mut adaptive_lines = Vec::new();
    let mut build_lines = Vec::new();
    // Entries per second seen so far, to predict what fits the budget.
    let mut rate: f64 = 2e8;
    for &d in &args.dims {
        let (mut pot_rate, mut ott_rate): (Option<f64>, Option<f64>) = (None, None);
        for &n in &args.sizes {
            let x = uniform(n as u64 * 31 + d as u64, n * d, 0.0);
            let y = uniform(n as u64 * 37 + d as u64 + 1, n * d, 0.1);
            let p = Problem::new(
                PointCloud::new(x.clone(), d)?,
                PointCloud::new(y.clone(), d)?,
            )?;
            let entries = 2.0 * (n * n) as f64;
            let guess = entries / rate;
            if guess * 4.0 > args.budget {
                println!("{n:>7} {d:>3}   skipped: about {guess:.0} s per iteration here, beyond the {:.0} s budget", args.budget);
                continue;
            }
            let stats = transport::cost_stats(&ctx, &p)?;
            let eps = args.eps_rel * stats.mean;
            let online = time_ours(
                &ctx,
                &p,
                eps as f32,
                args.budget,
                guess,
                CostStorage::Online,
            )?;
            rate = entries / online.per_iter;
            // In high dimension, also with the matrix computed once and streamed.
            let stored = if d >= 16 {
                match time_ours(
                    &ctx,
                    &p,
                    eps as f32,
                    args.budget,
                    guess,
                    CostStorage::Matrix,
                ) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        println!("{n:>7} {d:>3}   stored matrix skipped: {e}");
                        None
                    }
                }
            } else {
                None
            };
            let peer_iters = 20;
            let pot_guess = pot_rate.map(|r| entries / r);
            let ott_guess = ott_rate.map(|r| entries / r);
            // Each peer runs 20 fixed iterations and then to the tolerance (30 to 100 here).
            let too_slow = |g: Option<f64>| g.is_some_and(|t| t * 60.0 > args.budget);
            // POT holds the dense n x m matrix in f64, several times over.
            let pot_memory = (n * n) as f64 * 8.0 * 4.0 > 16e9;
            let peers = if peers_available {
                run_peers(
                    &tmp,
                    &x,
                    &y,
                    n,
                    d,
                    eps,
                    pot_memory || too_slow(pot_guess),
                    too_slow(ott_guess),
                    peer_iters,
                )
            } else {
                None
            };
            let get = |who: &str, key: &str| peers.as_ref().and_then(|v| v[who][key].as_f64());
            let (pot_it, pot_tol) = (get("pot", "per_iter_s"), get("pot", "to_tol_s"));
            let (ott_it, ott_tol) = (get("ott", "per_iter_s"), get("ott", "to_tol_s"));
            let ott_anderson = get("ott", "anderson_to_tol_s");
            let ott_anderson_iters = get("ott", "anderson_iterations");
            pot_rate = pot_it.map(|t| entries / t).or(pot_rate);
            ott_rate = ott_it.map(|t| entries / t).or(ott_rate);
            let ratio = |peer: Option<f64>, mine: Option<f64>| match (peer, mine) {
                (Some(a), Some(b)) => format!("{:.2}x", a / b),
                _ => "-".into(),
            };
            let mut measured = vec![("online", &online)];
            if let Some(t) = &stored {
                measured.push(("matrix", t));
            }
            let mut results = serde_json::Map::new();
            for (costs, ours) in measured {
                let ours_rate = entries / ours.per_iter;
                let exp_frac = ours_rate / peaks.exp_per_s;
                // Recomputed costs: d multiply-adds per entry; streamed: none.
                let fma_frac = if costs == "online" {
                    ours_rate * d as f64 / peaks.fma_per_s
                } else {
                    0.0
                };
                let ours_tol = ours.to_tol.map(|t| t.0);
                println!(
                    "{n:>7} {d:>3} {costs:>6} {eps:>8.4} | {:>9} {:>5} {:>9} {:>8.3} {:>5.1}% {:>5.1}% | {:>9} {:>9} | {:>9} {:>9} | {:>8} {:>8}",
                    fmt_s(ours_tol),
                    ours.to_tol.map_or("-".into(), |t| format!("{}{}", t.1, if t.2 { "" } else { "!" })),
                    fmt_s(Some(ours.per_iter)),
                    ours_rate / 1e9,
                    100.0 * exp_frac,
                    100.0 * fma_frac,
                    fmt_s(pot_it),
                    fmt_s(pot_tol),
                    fmt_s(ott_it),
                    fmt_s(ott_tol),
                    ratio(ott_it, Some(ours.per_iter)),
                    ratio(ott_tol, ours_tol),
                );
                if let Some((secs, its, conv)) = ours.to_tol_adaptive {
                    adaptive_lines.push(format!(
                        "{n:>7} {d:>3} {costs:>6}: adaptive momentum {} in {its}{} iterations ({} against plain OTT-JAX to the same tolerance)",
                        fmt_s(Some(secs)),
                        if conv { "" } else { "!" },
                        ratio(ott_tol, Some(secs))
                    ));
                }
                if let Some((secs, its, conv)) = ours.to_tol_anderson {
                    adaptive_lines.push(format!(
                        "{n:>7} {d:>3} {costs:>6}: Anderson {} in {its}{} iterations; OTT-JAX with Anderson {} in {} ({} OTT/morphogen)",
                        fmt_s(Some(secs)),
                        if conv { "" } else { "!" },
                        fmt_s(ott_anderson),
                        ott_anderson_iters.map_or("-".into(), |i| format!("{i:.0}")),
                        ratio(ott_anderson, Some(secs))
                    ));
                }
                results.insert(costs.into(), json!({
                    "per_iter_s": ours.per_iter, "to_tol_s": ours_tol, "iterations": ours.to_tol.map(|t| t.1),
                    "entries_per_s": ours_rate, "fraction_of_exp_limit": exp_frac, "fraction_of_fma_limit": fma_frac,
                    "adaptive_momentum": ours.to_tol_adaptive.map(|t| json!({"to_tol_s": t.0, "iterations": t.1, "converged": t.2})),
                    "anderson": ours.to_tol_anderson.map(|t| json!({"memory": ANDERSON_MEMORY, "to_tol_s": t.0, "iterations": t.1, "converged": t.2})),
                }));
            }
            if let Some(st) = &stored {
                // The build with the readback of the matrix (what `cost_matrix` costs a
                // caller), and the build alone on the GPU's clock (the cost tiles' rate).
                transport::cost_matrix(&ctx, &p)?;
                let start = Instant::now();
                transport::cost_matrix(&ctx, &p)?;
                let build = start.elapsed().as_secs_f64();
                let timing = transport::time_cost_matrix(&ctx, &p)?;
                let kernels = timing.gpu.unwrap_or(timing.wall).as_secs_f64();
                // Each pair-coordinate is a subtraction and a multiply-add.
                let ops = 2.0 * (n * n * d) as f64;
                let saved = online.per_iter - st.per_iter;
                let crossover = if saved > 0.0 {
                    format!("stored wins after {:.0} iterations", (build / saved).ceil())
                } else {
                    "online is faster per iteration".into()
                };
                let fma = |secs: f64| 100.0 * ops / secs.max(1e-9) / peaks.fma_per_s;
                build_lines.push(format!(
                    "{n:>7} {d:>3}: matrix build {} on the GPU ({:.1}% of the FMA limit at 2 ops per pair-coordinate), {} with the readback ({:.1}%); {crossover}",
                    fmt_s(Some(kernels)),
                    fma(kernels),
                    fmt_s(Some(build)),
                    fma(build)
                ));
                results.insert("matrix_build_gpu_s".into(), json!(kernels));
                results.insert("matrix_build_s".into(), json!(build));
            }
            rows.push(json!({
                "n": n, "d": d, "eps": eps,
                "morphogen": results,
                "peers": peers,
            }));
        }
    }
    if !build_lines.is_empty() {
        println!(
            "\nstored cost matrices (CostStorage::Matrix; Auto stores from d = 16 within 1 GiB):"
        );
        for line in &build_lines {
            println!("{line}");
        }
    }
    if !adaptive_lines.is_empty() {
        println!("\naccelerated (same problems, same tolerance; Anderson memory {ANDERSON_MEMORY}, ridge 1e-4 on both sides):");
        for line in &adaptive_lines {
            println!("{line}");
        }
    }
    println!("\nxOTT: OTT-JAX time / morphogen time (above 1: morphogen faster). '!' marks a run that hit max_iter.");
    println!("POT stops on the L2 norm of one marginal (looser); OTT and morphogen on the L1 marginal error.");
    let _ = std::fs::remove_dir_all(&tmp);
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        let summary = json!({
            "adapter": ctx.adapter().to_string(),
            "limits": {"exp_per_s": peaks.exp_per_s, "fma_per_s": peaks.fma_per_s, "bytes_per_s": peaks.bytes_per_s, "clock": peaks.clock},
            "rows": rows,
        });
        std::fs::write(
            Path::new(&dir).join("transport.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
    }
    Ok(())
}
