//! Biome benchmark: whole steps per second (environment, extended agent programs,
//! reproduction with mutation) on the persistence preset, cell updates per second, and the
//! environment's traffic as a fraction of this adapter's measured copy bandwidth, the
//! dispatches per step and the share of GPU time between dispatches; with
//! `--reference PATH`, the reference implementation (JAX) on the same machine and size.
//! Sizes up to `--batch-max-cells` (2^16) also run `--worlds W` (16) worlds of that size
//! in one batch, against the reference vmapped over as many worlds: aggregate world-steps
//! per second.
//!
//! ```text
//! cargo bench --bench biome              # 72x128 (also 16 worlds), 72x288, 512x2048, 2048x8192, 8192x8192
//! cargo bench --bench biome -- --sizes 72x128 --seconds 5 --warmup 200 --worlds 16
//! cargo bench --bench biome -- --sizes 72x128 --reference CHECKOUT --python VENV/bin/python
//! ```
//!
//! Worlds get one seed per 64 columns (the preset's single seed on narrow worlds) and warm
//! up for `--warmup` steps (at most `--seconds`) so that plants grow before the timing.
//! Each size then runs batches of steps (one submission each) for `--seconds`. A size
//! whose grids exceed the adapter's storage binding limit is reported and skipped. The
//! reference runs through `benches/peers/biomaker_reference.py` (a checkout of
//! google-research/self-organising-systems at tag biomaker-v1.0.0 and the Python packages
//! in `benches/peers/biomaker_requirements.txt`) on sizes up to `--reference-max-cells`
//! (2^20: it evaluates every cell's networks densely, so larger worlds take it hours).
//! Results also go to `biome.json` in `MORPHOGEN_BENCH_OUT`.

mod common;
use common::Flags;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use morphogen::biome::{
    bytes_per_cell_step, BiomeConfig, Preset, ProgramTable, RunOptions, StepProfile, Width,
    WorldParts, WorldState, Worlds,
};
use morphogen::gpu::{measure_peaks, GpuContext};
use serde_json::{json, Value};

struct Args {
    sizes: Vec<(u32, u32)>,
    seconds: f64,
    warmup: u64,
    reference: Option<String>,
    reference_max_cells: u64,
    python: String,
    worlds: usize,
    batch_max_cells: u64,
}

fn parse_args() -> Args {
    let flags = Flags::from_env();
    let sizes: Vec<String> = flags.list("--sizes", Vec::new());
    let sizes = sizes
        .iter()
        .filter_map(|s| {
            let (h, w) = s.split_once('x')?;
            Some((h.parse().ok()?, w.parse().ok()?))
        })
        .collect::<Vec<_>>();
    Args {
        sizes: if sizes.is_empty() {
            vec![
                (72, 128),
                (72, 288),
                (512, 2048),
                (2048, 8192),
                (8192, 8192),
            ]
        } else {
            sizes
        },
        seconds: flags.get("--seconds", 10.0),
        warmup: flags.get("--warmup", 200),
        reference: flags
            .value("--reference")
            .map(String::from)
            .or_else(|| std::env::var("BIOMAKER_REFERENCE").ok()),
        reference_max_cells: flags.get("--reference-max-cells", 1 << 20),
        python: flags
            .value("--python")
            .map(String::from)
            .or_else(|| std::env::var("BIOMAKER_PYTHON").ok())
            .unwrap_or_else(|| "python3".into()),
        worlds: flags.get("--worlds", 16),
        batch_max_cells: flags.get("--batch-max-cells", 1 << 16),
    }
}

/// The reference's steps per second at this size, if it can run here.
/// The reference's run at this size (steps per second and the versions it ran with), if
/// it can run here.
fn reference_run(args: &Args, h: u32, w: u32, worlds: usize) -> Option<Value> {
    let path = args.reference.as_ref()?;
    if u64::from(h) * u64::from(w) * worlds as u64 > args.reference_max_cells {
        return None;
    }
    let out = Command::new(&args.python)
        .args(["benches/peers/biomaker_reference.py", "--reference", path])
        .args(["--height", &h.to_string(), "--width", &w.to_string()])
        .args(["--worlds", &worlds.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--warmup", &args.warmup.min(200).to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{'))?;
    serde_json::from_str(line).ok()
}

/// The preset's world with one seed per 64 columns.
fn seeded_world(config: &BiomeConfig) -> morphogen::Result<WorldState> {
    let mut world = WorldState::initial(config)?;
    let nutrients = config.seed_nutrients();
    for col in (32..world.width).step_by(64) {
        if world.fertile_row(col).is_some() {
            world.place_seed(col, None, 0, nutrients)?;
        }
    }
    Ok(world)
}

/// What timing a batch measured.
struct Timed {
    world_steps_per_s: f64,
    steps: u64,
    seconds: f64,
    mean_agents: f64,
    profile: StepProfile,
}

/// Warms `worlds` up, then times batches of steps for `args.seconds`.
fn time_batch(args: &Args, worlds: &mut Worlds) -> morphogen::Result<Timed> {
    let warm = Instant::now();
    while worlds.steps_done() < args.warmup && warm.elapsed().as_secs_f64() < args.seconds {
        worlds.run(10)?;
    }
    let probe = Instant::now();
    worlds.run(1)?;
    let per_step = probe.elapsed().as_secs_f64().max(1e-6);
    let batch = ((args.seconds / 10.0 / per_step) as usize).clamp(1, 64);
    let mut agents = Vec::new();
    let mut census = |worlds: &mut Worlds| {
        worlds.run_with(1, &RunOptions::default().census(true), |_, c| {
            agents.extend(c.iter().flatten().map(|c| c.agents()));
            Ok(())
        })
    };
    census(worlds)?;
    let start = Instant::now();
    let mut steps = 0u64;
    while start.elapsed().as_secs_f64() < args.seconds {
        worlds.run_with(batch as u64, &RunOptions::default().batch(batch), |_, _| {
            Ok(())
        })?;
        steps += batch as u64;
    }
    let seconds = start.elapsed().as_secs_f64();
    // Where the GPU's time goes: one submission of `batch` steps, every pass timed.
    let profile = worlds.profile_steps(batch)?;
    census(worlds)?;
    Ok(Timed {
        world_steps_per_s: (steps * worlds.count() as u64) as f64 / seconds,
        steps,
        seconds,
        mean_agents: agents.iter().sum::<u64>() as f64 / agents.len().max(1) as f64,
        profile,
    })
}

/// `count` seeded worlds of `config` (seeds 1, 2, ...) in one batch.
fn batch_of(ctx: &GpuContext, config: &BiomeConfig, count: usize) -> morphogen::Result<Worlds> {
    let state = seeded_world(config)?;
    let parts: Vec<WorldParts> = (1..=count as u64)
        .map(|seed| WorldParts {
            state: state.clone(),
            programs: ProgramTable::initial(config, seed),
            seed,
        })
        .collect();
    Worlds::from_parts(ctx, config, &parts, 0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let ctx = GpuContext::new()?;
    let peaks = measure_peaks(&ctx)?;
    println!("adapter: {}", ctx.adapter());
    println!(
        "measured copy bandwidth {:.1} GB/s ({} clock)\n",
        peaks.bytes_per_s / 1e9,
        peaks.clock
    );
    println!(
        "{:>11} {:>6} {:>8} {:>7} {:>6} {:>13} {:>12} {:>8} {:>11} {:>8}",
        "size",
        "worlds",
        "cells",
        "agents",
        "steps",
        "world-steps/s",
        "cell-upd/s",
        "env bw",
        "reference",
        "x ref"
    );
    let mut profiles = Vec::new();
    let mut rows: Vec<Value> = Vec::new();
    let mut versions: Option<String> = None;
    for (h, w) in args.sizes.clone() {
        let config = BiomeConfig::preset(Preset::Persistence)
            .height(h)
            .width(Width::Columns(w));
        let cells = u64::from(h) * u64::from(w);
        let mut counts = vec![1];
        if args.worlds > 1 && cells <= args.batch_max_cells {
            counts.push(args.worlds);
        }
        for count in counts {
            let label = format!("{h}x{w}");
            let mut worlds = match batch_of(&ctx, &config, count) {
                Ok(worlds) => worlds,
                Err(e) => {
                    println!("{label:>11} {count:>6} skipped: {e}");
                    rows.push(
                        json!({"height": h, "width": w, "worlds": count, "skipped": e.to_string()}),
                    );
                    continue;
                }
            };
            let t = time_batch(&args, &mut worlds)?;
            let updates = t.world_steps_per_s * cells as f64;
            let fraction =
                updates * bytes_per_cell_step(config.state_channels()) as f64 / peaks.bytes_per_s;
            let reference_json = reference_run(&args, h, w, count);
            let reference = reference_json
                .as_ref()
                .and_then(|v| v["world_steps_per_s"].as_f64());
            if let Some(v) = &reference_json {
                versions = Some(format!(
                    "reference ran with jax {}, flax {}, evojax {}, numpy {}, Python {}, timed \
                     in a jitted fori_loop of {} steps (vmapped over the worlds of a batch)",
                    v["jax"], v["flax"], v["evojax"], v["numpy"], v["python"], v["chunk"]
                ));
            }
            let (ref_text, ratio_text) = match reference {
                Some(r) => (
                    format!("{r:.2}/s"),
                    format!("{:.1}x", t.world_steps_per_s / r),
                ),
                None => ("-".into(), "-".into()),
            };
            println!(
                "{label:>11} {count:>6} {cells:>8} {:>7.0} {:>6} {:>13.1} {updates:>12.3e} {:>7.1}% {ref_text:>11} {ratio_text:>8}",
                t.mean_agents,
                t.steps,
                t.world_steps_per_s,
                100.0 * fraction
            );
            profiles.push((format!("{label} x{count}"), t.profile.clone()));
            rows.push(json!({
                "dispatches_per_step": t.profile.dispatches_per_step,
                "kernel_seconds": t.profile.kernel_seconds,
                "profiled_gpu_seconds": t.profile.gpu_seconds,
                "dispatch_overhead_fraction": t.profile.overhead_fraction(),
                "height": h, "width": w, "worlds": count, "steps": t.steps, "seconds": t.seconds,
                "mean_agents": t.mean_agents, "world_steps_per_s": t.world_steps_per_s,
                "cell_updates_per_s": updates, "env_bandwidth_fraction": fraction,
                "reference_world_steps_per_s": reference,
                "reference": reference_json,
            }));
        }
    }
    println!(
        "\nenv bw: {} bytes per cell and step for the environment's kernels (each value read \
         or written once; agent kernels not counted) times cell updates per second, over the \
         measured copy bandwidth. x ref: morphogen steps/s over the reference's, same size, \
         same machine, same number of worlds (the reference vmapped over them).",
        bytes_per_cell_step(6)
    );
    println!(
        "\n{:>15} {:>15} {:>14} {:>14} {:>10}",
        "size", "dispatches/step", "GPU ms/step", "kernel ms/step", "between"
    );
    for (label, p) in &profiles {
        let per = |v: Option<f64>| {
            v.map_or("-".to_string(), |s| {
                format!("{:.3}", 1e3 * s / p.steps as f64)
            })
        };
        println!(
            "{label:>15} {:>15.1} {:>14} {:>14} {:>10}",
            p.dispatches_per_step,
            per(p.gpu_seconds),
            per(p.kernel_seconds),
            p.overhead_fraction()
                .map_or("-".to_string(), |f| format!("{:.0}%", 100.0 * f))
        );
    }
    println!(
        "between: the share of the GPU's time between dispatches (per-pass timestamps \
         against the recording's)"
    );
    for (label, p) in &profiles {
        if p.by_kernel.is_empty() {
            continue;
        }
        let total: f64 = p.by_kernel.iter().map(|(_, s)| s).sum();
        let top: Vec<String> = p
            .by_kernel
            .iter()
            .take(12)
            .map(|(k, s)| {
                format!(
                    "{} {:.0}%",
                    k.trim_start_matches("morphogen.biome."),
                    100.0 * s / total
                )
            })
            .collect();
        println!("{label:>15} kernel time: {}", top.join(", "));
    }
    if let Some(line) = &versions {
        println!("{}", line.replace('"', ""));
    }
    if args.reference.is_none() {
        println!("reference not run: pass --reference CHECKOUT (see benches/peers/biomaker_reference.py)");
    }
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        let summary = json!({
            "adapter": ctx.adapter().to_string(),
            "bytes_per_s": peaks.bytes_per_s,
            "rows": rows,
        });
        std::fs::write(
            Path::new(&dir).join("biome.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
    }
    Ok(())
}
