//! Biome benchmark: steps per second and cell updates per second of the world step (every
//! environment sub-step, no agent programs) on the persistence preset, and the traffic
//! those steps imply as a fraction of this adapter's measured copy bandwidth.
//!
//! ```text
//! cargo bench --bench biome                                # 72x128, 72x288, 512x2048, 2048x8192
//! cargo bench --bench biome -- --sizes 72x128,512x2048 --seconds 5
//! ```
//!
//! Each size runs a few warm-up steps, then whole batches of steps (one submission each)
//! until `--seconds` of wall time have passed. A size whose grids exceed the adapter's
//! storage binding limit is reported and skipped. Results also go to `biome.json` in
//! `MORPHOGEN_BENCH_OUT`.

use std::path::Path;
use std::time::Instant;

use morphogen::biome::{bytes_per_cell_step, BiomeConfig, Preset, Width, World};
use morphogen::gpu::{measure_peaks, GpuContext};
use serde_json::{json, Value};

struct Args {
    sizes: Vec<(u32, u32)>,
    seconds: f64,
}

fn parse_args() -> Args {
    let mut args = Args {
        sizes: vec![(72, 128), (72, 288), (512, 2048), (2048, 8192)],
        seconds: 10.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                args.sizes = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|s| {
                        let (h, w) = s.split_once('x')?;
                        Some((h.parse().ok()?, w.parse().ok()?))
                    })
                    .collect()
            }
            "--seconds" => {
                args.seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(args.seconds)
            }
            _ => {}
        }
    }
    args
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
        "{:>11} {:>10} {:>8} {:>12} {:>14} {:>10}",
        "size", "cells", "steps", "steps/s", "cell-upd/s", "of bw"
    );
    let mut rows: Vec<Value> = Vec::new();
    for (h, w) in args.sizes {
        let config = BiomeConfig::preset(Preset::Persistence)
            .height(h)
            .width(Width::Columns(w));
        let cells = u64::from(h) * u64::from(w);
        let mut world = match World::new(&ctx, &config, 1) {
            Ok(world) => world,
            Err(e) => {
                println!("{:>11} skipped: {e}", format!("{h}x{w}"));
                rows.push(json!({"height": h, "width": w, "skipped": e.to_string()}));
                continue;
            }
        };
        world.run(2)?;
        // A batch lasts about a tenth of the time budget, within the submission cap.
        let probe = Instant::now();
        world.run(1)?;
        let per_step = probe.elapsed().as_secs_f64().max(1e-6);
        let batch = ((args.seconds / 10.0 / per_step) as u64).clamp(1, 64);
        let start = Instant::now();
        let mut steps = 0u64;
        while start.elapsed().as_secs_f64() < args.seconds {
            world.run(batch)?;
            steps += batch;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let steps_per_s = steps as f64 / elapsed;
        let updates = steps_per_s * cells as f64;
        let bytes = updates * bytes_per_cell_step(config.state_channels()) as f64;
        let fraction = bytes / peaks.bytes_per_s;
        println!(
            "{:>11} {:>10} {:>8} {:>12.1} {:>14.3e} {:>9.1}%",
            format!("{h}x{w}"),
            cells,
            steps,
            steps_per_s,
            updates,
            100.0 * fraction
        );
        rows.push(json!({
            "height": h, "width": w, "steps": steps, "seconds": elapsed,
            "steps_per_s": steps_per_s, "cell_updates_per_s": updates,
            "bandwidth_fraction": fraction,
        }));
    }
    println!(
        "\nof bw: {} bytes per cell and step (each value read or written once) times cell \
         updates per second, over the measured copy bandwidth.",
        bytes_per_cell_step(6)
    );
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
