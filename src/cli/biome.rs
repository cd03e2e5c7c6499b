//! `morphogen biome`: grow a Biomaker CA world, writing frames, a time-lapse, per-step
//! metrics and checkpoints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::biome::{BiomeConfig, Census, Preset, RunOptions, RunTotals, TimeLapse, Width, World};
use crate::cli::output::{bad, progress, CliResult, OutDir};
use crate::cli::shard::{parse_seeds, Shard};
use crate::cli::Common;

/// Arguments of `morphogen biome`.
#[derive(Args, Debug)]
pub struct BiomeArgs {
    /// persistence, pestilence, collaboration or sideways.
    #[arg(long)]
    pub preset: Option<String>,
    /// A TOML configuration (may name a preset and override its fields).
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// Rows.
    #[arg(long)]
    pub height: Option<u32>,
    /// Columns, or wide, landscape, square, petri.
    #[arg(long)]
    pub width: Option<String>,
    /// Run until this step.
    #[arg(long, default_value_t = 1000)]
    pub steps: u64,
    /// A program (`.npy`, 1-D float32) copied into every slot.
    #[arg(long)]
    pub program: Option<PathBuf>,
    /// Minimal programs instead of extended ones.
    #[arg(long)]
    pub minimal: bool,
    /// The petri-dish mode: reproductions are counted instead of placing seeds; one that
    /// leaves its flower at least this much energy above the reproduce cost (one value
    /// for both nutrients, or earth,air) succeeds. The reference's evolution notebooks
    /// use dissipation x 4 + specialize cost x 2.
    #[arg(long, value_name = "ENERGY")]
    pub intercept_reproduction: Option<String>,
    /// Seed of the world's randomness and of the programs' initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A sweep: one world per seed in A..B (B excluded), each in DIR/seed_S/.
    #[arg(long, conflicts_with_all = ["seed", "resume"])]
    pub seeds: Option<String>,
    /// Run only part I of N of the sweep's seeds (0-based), for job arrays; `morphogen
    /// merge` joins the parts.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Save a frame every K steps (default: about 100 frames in all).
    #[arg(long)]
    pub frames_every: Option<u64>,
    /// Save a checkpoint every K steps (the final state is always saved).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Continue from a checkpoint (its configuration, seed and programs).
    #[arg(long, conflicts_with_all = ["preset", "config", "height", "width", "program", "minimal", "intercept_reproduction"])]
    pub resume: Option<PathBuf>,
    /// Pixels per cell in frames.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

/// The configuration the flags describe.
fn configure(args: &BiomeArgs) -> CliResult<BiomeConfig> {
    let config = match (&args.config, &args.preset) {
        (Some(path), _) => {
            if !path.is_file() {
                return Err(bad(format!("--config {}: no such file", path.display())));
            }
            BiomeConfig::load(path).map_err(|e| bad(format!("--config {e}")))?
        }
        (None, Some(name)) => BiomeConfig::preset(
            name.parse::<Preset>()
                .map_err(|e| bad(format!("--preset: {e}")))?,
        ),
        (None, None) => BiomeConfig::preset(Preset::Persistence),
    };
    let width = match &args.width {
        Some(w) => Some(
            w.parse::<Width>()
                .map_err(|e| bad(format!("--width: {e}")))?,
        ),
        None => None,
    };
    let mut config = config
        .choose(args.height, width, args.minimal)
        .map_err(|e| bad(e.to_string()))?;
    if let Some(text) = &args.intercept_reproduction {
        config.intercept_reproduction = Some(parse_energy(text)?);
        config
            .validate()
            .map_err(|e| bad(format!("--intercept-reproduction: {e}")))?;
    }
    Ok(config)
}

/// One energy for both nutrients, or `earth,air`.
fn parse_energy(text: &str) -> CliResult<[f64; 2]> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            bad(format!(
                "--intercept-reproduction {text:?}: expected a number or earth,air"
            ))
        })?;
    match values[..] {
        [e] => Ok([e, e]),
        [earth, air] => Ok([earth, air]),
        _ => Err(bad(format!(
            "--intercept-reproduction {text:?}: one value, or two (earth,air)"
        ))),
    }
}

/// How a run saves its outputs.
pub struct Plan {
    /// Final step.
    pub steps: u64,
    /// Frame interval.
    pub frames_every: u64,
    /// Checkpoint interval (0: only the final state).
    pub checkpoint_every: u64,
    /// Pixels per cell.
    pub zoom: u32,
}

/// Runs `morphogen biome`.
pub fn run(args: &BiomeArgs, common: &Common) -> CliResult<()> {
    let (config, checkpoint) = match &args.resume {
        Some(path) => {
            if !path.is_file() {
                return Err(bad(format!("--resume {}: no such file", path.display())));
            }
            let cp =
                crate::biome::Checkpoint::load(path).map_err(|e| bad(format!("--resume {e}")))?;
            (cp.config.clone(), Some(cp))
        }
        None => (configure(args)?, None),
    };
    let program = match &args.program {
        Some(path) => {
            if !path.is_file() {
                return Err(bad(format!("--program {}: no such file", path.display())));
            }
            let (model, program) =
                crate::biome::load_program(path, config.agent_state_size as usize)
                    .map_err(|e| bad(format!("--program {e}")))?;
            if model != config.agents.model {
                return Err(bad(format!(
                    "--program {} is a {model:?} program but the run uses {:?} programs \
                     (drop --minimal, or set agents.model in --config)",
                    path.display(),
                    config.agents.model
                )));
            }
            Some(program)
        }
        None => None,
    };
    let start_step = checkpoint.as_ref().map_or(0, |cp| cp.step);
    if args.steps <= start_step {
        return Err(bad(format!(
            "--steps {} is not beyond the checkpoint's step {start_step}",
            args.steps
        )));
    }
    let plan = Plan {
        steps: args.steps,
        frames_every: args
            .frames_every
            .unwrap_or(((args.steps - start_step) / 100).max(1))
            .max(1),
        checkpoint_every: args.checkpoint_every.unwrap_or(0),
        zoom: args.zoom.max(1),
    };

    let ctx = common.context()?;
    if let Some(seeds) = &args.seeds {
        let seeds = parse_seeds(seeds).map_err(|e| bad(format!("--seeds: {e}")))?;
        let all: Vec<u64> = seeds.collect();
        let range = args.shard.nonempty(all.len(), "seeds")?;
        let out = OutDir::prepare(&args.out, args.force)?;
        let mut runs = Vec::new();
        for &seed in &all[range.clone()] {
            let seed_started = Instant::now();
            let seed_gpu = ctx.gpu_seconds();
            let mut world = World::new(&ctx, &config, seed)?;
            if let Some(p) = &program {
                world.fill_programs(p)?;
            }
            let dir = OutDir::prepare(&out.join(&format!("seed_{seed}")), true)?;
            let summary = grow(&mut world, &plan, &dir, common)?;
            let gpu = ctx
                .gpu_seconds()
                .zip(seed_gpu)
                .map(|(now, then)| now - then);
            runs.push(dir.summary(summary, seed_started, gpu, false)?);
        }
        write_sweep(&out, &runs)?;
        let summary = json!({
            "command": "biome-sweep",
            "shard": args.shard.label(),
            "seeds": all[range].to_vec(),
            "runs": runs,
        });
        out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
        if !common.quiet && !common.json {
            eprintln!("wrote {}", out.path().display());
        }
        return Ok(());
    }
    if args.shard != Shard::default() {
        return Err(bad("--shard splits a seed sweep: give --seeds A..B"));
    }
    let mut world = match &checkpoint {
        Some(cp) => World::from_parts(&ctx, &cp.config, &cp.world, &cp.programs, cp.seed, cp.step)?,
        None => World::new(&ctx, &config, args.seed)?,
    };
    if let Some(p) = &program {
        world.fill_programs(p)?;
    }
    let out = OutDir::prepare(&args.out, args.force)?;
    let summary = grow(&mut world, &plan, &out, common)?;
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!("wrote {}", out.path().display());
    }
    Ok(())
}

/// `sweep.csv` and `sweep.png` (final agents per seed) of a sweep's runs.
pub fn write_sweep(out: &OutDir, runs: &[Value]) -> CliResult<()> {
    out.write("sweep.csv", sweep_csv(runs).as_bytes())?;
    let finals: Vec<(u64, u64)> = runs
        .iter()
        .filter_map(|r| Some((r["seed"].as_u64()?, r["final_agents"].as_u64()?)))
        .collect();
    let steps = runs.first().and_then(|r| r["steps"].as_u64()).unwrap_or(0);
    let title = format!(
        "Biome sweep: agent cells after {steps} steps, {} seeds",
        finals.len()
    );
    out.figure(
        "sweep.png",
        &crate::figures::engines::sweep(&title, &finals)?,
    )?;
    Ok(())
}

/// One line per run of a sweep.
fn sweep_csv(runs: &[Value]) -> String {
    let columns = [
        "seed",
        "steps",
        "agent_steps",
        "reproductions",
        "seeds_placed",
        "final_agents",
        "peak_living_ids",
        "extinct",
    ];
    let mut csv = columns.join(",") + "\n";
    for run in runs {
        let cells: Vec<String> = columns.iter().map(|c| run[*c].to_string()).collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    csv
}

fn metrics_csv(rows: &[Census]) -> String {
    let mut csv = String::from(
        "step,agents,unspecialized,root,leaf,flower,reproductions,seeds,living_ids,intercepted\n",
    );
    for c in rows {
        let [u, r, l, f] = c.by_specialization();
        csv.push_str(&format!(
            "{},{},{u},{r},{l},{f},{},{},{},{}\n",
            c.step,
            c.agents(),
            c.reproductions,
            c.seeds,
            c.living_ids,
            c.intercepted
        ));
    }
    csv
}

/// "Biome 72 x 128, persistence, seed 1": what a world is, for a figure's title.
fn describe(world: &World) -> String {
    let config = world.config();
    format!(
        "Biome {} x {}, {} programs, seed {}",
        config.height,
        config.columns(),
        format!("{:?}", config.agents.model).to_lowercase(),
        world.seed()
    )
}

/// metrics.csv, and beside it metrics.png.
fn write_metrics(out: &OutDir, world: &World, rows: &[Census]) -> CliResult<()> {
    out.write("metrics.csv", metrics_csv(rows).as_bytes())?;
    if !rows.is_empty() {
        out.figure(
            "metrics.png",
            &crate::figures::engines::biome_metrics(&describe(world), rows)?,
        )?;
    }
    Ok(())
}

fn save_frame(world: &World, plan: &Plan, frames: &Path, lapse: &mut TimeLapse) -> CliResult<()> {
    let mut image = world.render(plan.zoom)?;
    // The step counter in a corner; the rest is the world's pixels.
    crate::figures::label_rgba(
        &mut image.rgba,
        image.width,
        image.height,
        &format!("step {}", world.steps_done()),
    )?;
    image.save(&frames.join(format!("step_{:06}.png", world.steps_done())))?;
    lapse.push(image)?;
    Ok(())
}

/// Runs `world` to `plan.steps`, writing frames, the time-lapse, metrics and checkpoints
/// into `out`; returns the summary.
pub fn grow(world: &mut World, plan: &Plan, out: &OutDir, common: &Common) -> CliResult<Value> {
    let frames = out.subdir("frames")?;
    let checkpoints = if plan.checkpoint_every > 0 {
        Some(out.subdir("checkpoints")?)
    } else {
        None
    };
    let first = world.steps_done();
    let bar = progress(plan.steps - first, "biome", common.quiet);
    let mut lapse = TimeLapse::new();
    let mut rows: Vec<Census> = Vec::new();
    let mut totals = RunTotals::default();
    save_frame(world, plan, &frames, &mut lapse)?;
    let started = Instant::now();
    while world.steps_done() < plan.steps {
        let now = world.steps_done();
        let next_frame = (now / plan.frames_every + 1) * plan.frames_every;
        let mut stop = next_frame.min(plan.steps);
        if let Some(k) = now.checked_div(plan.checkpoint_every) {
            stop = stop.min((k + 1) * plan.checkpoint_every);
        }
        world.run_with(
            stop - now,
            &RunOptions::default().census(true),
            |done, census| {
                rows.extend_from_slice(census);
                census.iter().for_each(|c| totals.add(c));
                bar.set_position(done - first);
                if let Some(c) = census.last() {
                    bar.set_prefix(format!("{} agents", c.agents()));
                }
                Ok(())
            },
        )?;
        let at = world.steps_done();
        if at.is_multiple_of(plan.frames_every) || at == plan.steps {
            save_frame(world, plan, &frames, &mut lapse)?;
        }
        if let Some(dir) = &checkpoints {
            if at.is_multiple_of(plan.checkpoint_every) {
                world.save_checkpoint(&dir.join(format!("step_{at:06}.safetensors")))?;
                write_metrics(out, world, &rows)?;
            }
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    world.save_checkpoint(&out.join("checkpoint.safetensors"))?;
    write_metrics(out, world, &rows)?;
    lapse.save_gif(&out.join("timelapse.gif"), 15)?;
    world
        .render(plan.zoom.max(4))?
        .save(&out.join("final.png"))?;
    let config = world.config();
    Ok(json!({
        "command": "biome",
        "height": config.height,
        "width": config.columns(),
        "programs": format!("{:?}", config.agents.model).to_lowercase(),
        "seed": world.seed(),
        "first_step": first,
        "steps": world.steps_done(),
        "steps_per_second": (world.steps_done() - first) as f64 / seconds.max(1e-9),
        "agent_steps": totals.agent_steps,
        "reproductions": totals.reproductions,
        "seeds_placed": totals.seeds,
        "intercepted": config.intercept_reproduction.map(|_| totals.intercepted),
        "final_agents": totals.final_agents,
        "peak_living_ids": totals.peak_living_ids,
        "extinct": totals.extinct(),
        "frames": lapse.len(),
        "adapter": world.context().adapter().to_string(),
    }))
}
