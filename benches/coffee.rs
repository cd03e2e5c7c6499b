//! Coffee Automaton benchmark: swaps per second (interacting) and particle moves per second
//! (non-interacting) at n = 100 for 1, 16 and 256 replicas, against the authors' algorithm
//! in plain numpy on the same machine (`benches/peers/coffee_numpy.py`), and the wall time
//! of one whole reference-length interacting run (n = 100: 42.5 million swaps, 1,601
//! samples coarse-grained and compressed) against the same run in numpy.
//!
//! ```text
//! cargo bench --bench coffee
//! cargo bench --bench coffee -- --replicas 1,16 --swaps 100000 --steps 100 --no-full
//! ```
//!
//! Interacting rates are measured from the starting state over `--swaps` swaps per
//! replica (the same phase of the run for every system: early swaps need more attempts).
//! numpy runs replicas one after another, so its aggregate rate is its one-replica rate;
//! its non-interacting moves are vectorised over particles and replicas. The peers run
//! when `benches/peers/.venv` exists (`benches/peers/setup.sh`). Results also go to
//! `coffee.json` in `MORPHOGEN_BENCH_OUT`.

mod common;
use common::Flags;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use morphogen::coffee::{Automaton, CoffeeConfig, Model, Schedule};
use morphogen::gpu::GpuContext;
use serde_json::{json, Value};

/// One run of the numpy peer: `swaps` interacting swaps, `steps` non-interacting steps of
/// `replicas` replicas, and with `full` a whole reference-length interacting run.
fn peer(n: usize, swaps: u64, steps: u64, replicas: usize, full: bool) -> Option<Value> {
    let python = Path::new("benches/peers/.venv/bin/python");
    if !python.exists() {
        return None;
    }
    let mut command = Command::new(python);
    command.arg("benches/peers/coffee_numpy.py").args([
        "--size".to_string(),
        n.to_string(),
        "--swaps".into(),
        swaps.to_string(),
        "--steps".into(),
        steps.to_string(),
        "--replicas".into(),
        replicas.to_string(),
    ]);
    if full {
        command.arg("--full");
    }
    let out = command.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().rev().find(|l| l.starts_with('{'))?).ok()
}

fn ratio(ours: f64, theirs: Option<f64>) -> String {
    theirs.map_or("-".into(), |t| format!("{:.1}x", ours / t))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::from_env();
    let n: usize = flags.get("--size", 100);
    let replicas: Vec<usize> = flags.list("--replicas", vec![1, 16, 256]);
    let swaps: u64 = flags.get("--swaps", 200_000);
    let steps: u64 = flags.get("--steps", 200);
    let full = !flags.has("--no-full");
    let ctx = GpuContext::new()?;
    println!("adapter: {}", ctx.adapter());
    let mut rows = Vec::new();

    // Kernels compile once, before any timing.
    for model in [Model::Interacting, Model::NonInteracting] {
        let config = CoffeeConfig::default().model(model).size(n);
        Automaton::new(&ctx, &config, 0)?.advance_to(1)?;
    }

    println!("\ninteracting, n = {n}, {swaps} swaps per replica from the start");
    println!(
        "{:>9} {:>14} {:>16} {:>14} {:>9}",
        "replicas", "swaps/s", "attempts/s", "numpy swaps/s", "x numpy"
    );
    let numpy = peer(n, swaps, 1, 1, false);
    let numpy_swaps = numpy.as_ref().and_then(|v| v["swaps_per_s"].as_f64());
    for &r in &replicas {
        let config = CoffeeConfig::default().size(n).replicas(r);
        let mut automaton = Automaton::new(&ctx, &config, 1)?;
        let t = Instant::now();
        automaton.advance_to(swaps)?;
        let seconds = t.elapsed().as_secs_f64();
        let attempts: u64 = automaton.state()?.clocks.iter().map(|c| c.attempts).sum();
        let rate = (swaps * r as u64) as f64 / seconds;
        println!(
            "{r:>9} {rate:>14.3e} {:>16.3e} {:>14} {:>9}",
            attempts as f64 / seconds,
            numpy_swaps.map_or("-".into(), |v| format!("{v:.3e}")),
            ratio(rate, numpy_swaps)
        );
        rows.push(
            json!({"model": "interacting", "replicas": r, "swaps_per_s": rate,
            "attempts_per_s": attempts as f64 / seconds, "numpy_swaps_per_s": numpy_swaps}),
        );
    }

    println!("\nnon-interacting, n = {n}, {steps} steps");
    println!(
        "{:>9} {:>14} {:>14} {:>9}",
        "replicas", "moves/s", "numpy moves/s", "x numpy"
    );
    for &r in &replicas {
        let config = CoffeeConfig::default()
            .model(Model::NonInteracting)
            .size(n)
            .replicas(r);
        let mut automaton = Automaton::new(&ctx, &config, 1)?;
        let t = Instant::now();
        automaton.advance_to(steps)?;
        // The particles are read back so the time includes the GPU's work.
        automaton.state()?;
        let seconds = t.elapsed().as_secs_f64();
        let rate = (config.cream() as u64 * r as u64 * steps) as f64 / seconds;
        let numpy = peer(n, 1, (steps / 4).max(1), r, false);
        let theirs = numpy.as_ref().and_then(|v| v["moves_per_s"].as_f64());
        println!(
            "{r:>9} {rate:>14.3e} {:>14} {:>9}",
            theirs.map_or("-".into(), |v| format!("{v:.3e}")),
            ratio(rate, theirs)
        );
        rows.push(
            json!({"model": "noninteracting", "replicas": r, "moves_per_s": rate,
            "numpy_moves_per_s": theirs}),
        );
    }

    if full {
        let config = CoffeeConfig::default().size(n);
        let schedule = Schedule::reference(Model::Interacting, n);
        let mut automaton = Automaton::new(&ctx, &config, 2)?;
        let t = Instant::now();
        let mut samples = 0;
        automaton.run_with(&schedule, |_| {
            samples += 1;
            Ok(())
        })?;
        let sampled = t.elapsed().as_secs_f64();
        let mut bare = Automaton::new(&ctx, &config, 2)?;
        let t = Instant::now();
        bare.advance_to(schedule.last())?;
        let unsampled = t.elapsed().as_secs_f64();
        let numpy = peer(n, 1, 1, 1, true);
        let theirs = numpy.as_ref().and_then(|v| v["full_seconds"].as_f64());
        println!(
            "\nwhole reference run, n = {n}: {} swaps, {samples} samples",
            schedule.last()
        );
        println!(
            "  morphogen {sampled:.2} s (the same swaps without samples: {unsampled:.2} s; \
             sampling adds {:.0}%)",
            100.0 * (sampled / unsampled - 1.0)
        );
        if let Some(t) = theirs {
            println!("  numpy     {t:.2} s ({:.1}x)", t / sampled);
        }
        rows.push(
            json!({"model": "interacting", "full_run": true, "seconds": sampled,
            "seconds_without_samples": unsampled, "numpy_seconds": theirs, "samples": samples}),
        );
    }
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        let summary = json!({"adapter": ctx.adapter().to_string(), "rows": rows});
        std::fs::write(
            Path::new(&dir).join("coffee.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
    }
    Ok(())
}
