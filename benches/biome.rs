//! Biome benchmark: whole steps per second (environment, extended agent programs,
//! reproduction with mutation) on the persistence preset, cell updates per second, and the
//! environment's traffic as a fraction of this adapter's measured copy bandwidth, the
//! dispatches per step and the share of GPU time between dispatches; with
//! `--reference PATH`, the reference implementation (JAX) on the same machine and size.
//!
//! ```text
//! cargo bench --bench biome                                # 72x128, 72x288, 512x2048, 2048x8192
//! cargo bench --bench biome -- --sizes 72x128 --seconds 5 --warmup 200
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
    bytes_per_cell_step, BiomeConfig, Preset, RunOptions, Width, World, WorldState,
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
            vec![(72, 128), (72, 288), (512, 2048), (2048, 8192)]
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
    }
}

/// The reference's steps per second at this size, if it can run here.
/// The reference's run at this size (steps per second and the versions it ran with), if
/// it can run here.
fn reference_run(args: &Args, h: u32, w: u32) -> Option<Value> {
    let path = args.reference.as_ref()?;
    if u64::from(h) * u64::from(w) > args.reference_max_cells {
        return None;
    }
    let out = Command::new(&args.python)
        .args(["benches/peers/biomaker_reference.py", "--reference", path])
        .args(["--height", &h.to_string(), "--width", &w.to_string()])
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
        "{:>11} {:>8} {:>7} {:>6} {:>10} {:>12} {:>8} {:>11} {:>8}",
        "size", "cells", "agents", "steps", "steps/s", "cell-upd/s", "env bw", "reference", "x ref"
    );
    let mut profiles = Vec::new();
    let mut rows: Vec<Value> = Vec::new();
    let mut versions: Option<String> = None;
    for (h, w) in args.sizes.clone() {
        let label = format!("{h}x{w}");
        let config = BiomeConfig::preset(Preset::Persistence)
            .height(h)
            .width(Width::Columns(w));
        let cells = u64::from(h) * u64::from(w);
        let built =
            seeded_world(&config).and_then(|state| World::from_state(&ctx, &config, &state, 1, 0));
        let mut world = match built {
            Ok(world) => world,
            Err(e) => {
                println!("{label:>11} skipped: {e}");
                rows.push(json!({"height": h, "width": w, "skipped": e.to_string()}));
                continue;
            }
        };
        let warm = Instant::now();
        while world.steps_done() < args.warmup && warm.elapsed().as_secs_f64() < args.seconds {
            world.run(10)?;
        }
        let probe = Instant::now();
        world.run(1)?;
        let per_step = probe.elapsed().as_secs_f64().max(1e-6);
        let batch = ((args.seconds / 10.0 / per_step) as usize).clamp(1, 64);
        let mut agents = Vec::new();
        world.run_with(1, &RunOptions::default().census(true), |_, c| {
            agents.extend(c.iter().map(|c| c.agents()));
            Ok(())
        })?;
        let start = Instant::now();
        let mut steps = 0u64;
        while start.elapsed().as_secs_f64() < args.seconds {
            world.run_with(batch as u64, &RunOptions::default().batch(batch), |_, _| {
                Ok(())
            })?;
            steps += batch as u64;
        }
        let elapsed = start.elapsed().as_secs_f64();
        // Where the GPU's time goes: one submission of `batch` steps, every pass timed.
        let profile = world.profile_steps(batch)?;
        world.run_with(1, &RunOptions::default().census(true), |_, c| {
            agents.extend(c.iter().map(|c| c.agents()));
            Ok(())
        })?;
        let mean_agents = agents.iter().sum::<u64>() as f64 / agents.len().max(1) as f64;
        let steps_per_s = steps as f64 / elapsed;
        let updates = steps_per_s * cells as f64;
        let fraction =
            updates * bytes_per_cell_step(config.state_channels()) as f64 / peaks.bytes_per_s;
        let reference_json = reference_run(&args, h, w);
        let reference = reference_json
            .as_ref()
            .and_then(|v| v["steps_per_s"].as_f64());
        if let Some(v) = &reference_json {
            versions = Some(format!(
                "reference ran with jax {}, flax {}, evojax {}, numpy {}, Python {}, timed in a \
                 jitted fori_loop of {} steps",
                v["jax"], v["flax"], v["evojax"], v["numpy"], v["python"], v["chunk"]
            ));
        }
        let (ref_text, ratio_text) = match reference {
            Some(r) => (format!("{r:.2}/s"), format!("{:.1}x", steps_per_s / r)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{label:>11} {cells:>8} {mean_agents:>7.0} {steps:>6} {steps_per_s:>10.1} {updates:>12.3e} {:>7.1}% {ref_text:>11} {ratio_text:>8}",
            100.0 * fraction
        );
        profiles.push((label.clone(), profile));
        rows.push(json!({
            "dispatches_per_step": profile.dispatches_per_step,
            "kernel_seconds": profile.kernel_seconds,
            "profiled_gpu_seconds": profile.gpu_seconds,
            "dispatch_overhead_fraction": profile.overhead_fraction(),
            "height": h, "width": w, "steps": steps, "seconds": elapsed,
            "mean_agents": mean_agents, "steps_per_s": steps_per_s,
            "cell_updates_per_s": updates, "env_bandwidth_fraction": fraction,
            "reference_steps_per_s": reference,
            "reference": reference_json,
        }));
    }
    println!(
        "\nenv bw: {} bytes per cell and step for the environment's kernels (each value read \
         or written once; agent kernels not counted) times cell updates per second, over the \
         measured copy bandwidth. x ref: morphogen steps/s over the reference's, same size, \
         same machine.",
        bytes_per_cell_step(6)
    );
    println!(
        "\n{:>11} {:>15} {:>14} {:>14} {:>10}",
        "size", "dispatches/step", "GPU ms/step", "kernel ms/step", "between"
    );
    for (label, p) in &profiles {
        let per = |v: Option<f64>| {
            v.map_or("-".to_string(), |s| {
                format!("{:.3}", 1e3 * s / p.steps as f64)
            })
        };
        println!(
            "{label:>11} {:>15.1} {:>14} {:>14} {:>10}",
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
