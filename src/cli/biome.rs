//! `morphogen biome`: grow a Biomaker CA world, writing frames, a time-lapse, per-step
//! metrics and checkpoints.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::automata::Thinned;
use crate::biome::{
    BiomeConfig, Census, Preset, RunOptions, RunTotals, TimeLapse, Width, WorldParts, Worlds,
};
use crate::cli::output::{bad, progress, CliResult, OutDir};
use crate::cli::shard::{parse_seeds, Shard};
use crate::cli::Common;
use crate::error::Error;

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
    /// Worlds per batch in a sweep (default: as many as the adapter holds): the worlds of
    /// a batch advance together in one dispatch chain.
    #[arg(long, value_name = "W")]
    pub batch: Option<usize>,
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
        let fits = Worlds::max_batch(&ctx, &config);
        let batch = match args.batch {
            Some(0) => return Err(bad("--batch: at least one world per batch")),
            Some(b) if b > fits => {
                return Err(bad(format!(
                    "--batch {b}: at most {fits} worlds of {}x{} fit one batch on this adapter",
                    config.height,
                    config.columns()
                )))
            }
            Some(b) => b,
            None => fits,
        };
        let out = OutDir::prepare(&args.out, args.force)?;
        let mut runs = Vec::new();
        for chunk in all[range.clone()].chunks(batch) {
            let batch_started = Instant::now();
            let batch_gpu = ctx.gpu_seconds();
            let mut worlds = Worlds::new(&ctx, &config, chunk)?;
            if let Some(p) = &program {
                worlds.fill_all_programs(p)?;
            }
            let dirs: Vec<OutDir> = chunk
                .iter()
                .map(|seed| OutDir::prepare(&out.join(&format!("seed_{seed}")), true))
                .collect::<CliResult<_>>()?;
            let summaries = grow(&mut worlds, &plan, &dirs, common)?;
            // The batch's time and GPU time, shared by its worlds.
            let gpu = ctx
                .gpu_seconds()
                .zip(batch_gpu)
                .map(|(now, then)| (now - then) / chunk.len() as f64);
            for (dir, summary) in dirs.iter().zip(summaries) {
                runs.push(dir.summary(summary, batch_started, gpu, false)?);
            }
        }
        write_sweep(&out, &runs)?;
        let summary = json!({
            "command": "biome-sweep",
            "shard": args.shard.label(),
            "seeds": all[range].to_vec(),
            "batch": batch,
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
    if args.batch.is_some() {
        return Err(bad(
            "--batch sets the worlds per batch of a seed sweep: give --seeds A..B",
        ));
    }
    let mut worlds = match &checkpoint {
        Some(cp) => Worlds::from_parts(
            &ctx,
            &cp.config,
            &[WorldParts {
                state: cp.world.clone(),
                programs: cp.programs.clone(),
                seed: cp.seed,
            }],
            cp.step,
        )?,
        None => Worlds::new(&ctx, &config, &[args.seed])?,
    };
    if let Some(p) = &program {
        worlds.fill_all_programs(p)?;
    }
    let out = OutDir::prepare(&args.out, args.force)?;
    let summary = grow(&mut worlds, &plan, std::slice::from_ref(&out), common)?.remove(0);
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

/// "Biome 72 x 128, extended programs, seed 1": what a world is, for a figure's title.
fn describe(config: &BiomeConfig, seed: u64) -> String {
    format!(
        "Biome {} x {}, {} programs, seed {seed}",
        config.height,
        config.columns(),
        format!("{:?}", config.agents.model).to_lowercase(),
    )
}

/// Rows of `metrics.csv` a run keeps in memory for `metrics.png`: beyond this the series
/// is thinned to evenly spaced steps (the file has every step).
const PLOTTED_ROWS: usize = 4096;

/// `metrics.csv` written as the run goes: each batch's rows appended in one write, the
/// file synced at every checkpoint and at the end, so it is complete up to the last
/// checkpoint and never holds a partial row.
struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    fn create(path: PathBuf) -> CliResult<Self> {
        let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        file.write_all(METRICS_HEADER.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self { path, file })
    }

    fn append(&mut self, rows: &[Census]) -> CliResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(metrics_rows(rows).as_bytes())
            .map_err(|e| Error::io(&self.path, e).into())
    }

    fn sync(&mut self) -> CliResult<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, e).into())
    }
}

const METRICS_HEADER: &str =
    "step,agents,unspecialized,root,leaf,flower,reproductions,seeds,living_ids,intercepted\n";

fn metrics_rows(rows: &[Census]) -> String {
    let mut csv = String::new();
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

/// One world's outputs during a run.
struct Track {
    out: OutDir,
    frames: PathBuf,
    checkpoints: Option<PathBuf>,
    lapse: TimeLapse,
    metrics: MetricsLog,
    plotted: Thinned<Census>,
    totals: RunTotals,
}

impl Track {
    fn new(out: &OutDir, plan: &Plan) -> CliResult<Self> {
        Ok(Self {
            out: out.clone(),
            frames: out.subdir("frames")?,
            checkpoints: if plan.checkpoint_every > 0 {
                Some(out.subdir("checkpoints")?)
            } else {
                None
            },
            lapse: TimeLapse::new(),
            metrics: MetricsLog::create(out.join("metrics.csv"))?,
            plotted: Thinned::new(PLOTTED_ROWS),
            totals: RunTotals::default(),
        })
    }

    fn record(&mut self, rows: &[Census]) -> CliResult<()> {
        self.metrics.append(rows)?;
        for c in rows {
            self.totals.add(c);
            self.plotted.push(*c);
        }
        Ok(())
    }

    /// metrics.png from the rows kept, after syncing metrics.csv.
    fn write_metrics(&mut self, title: &str) -> CliResult<()> {
        self.metrics.sync()?;
        if !self.plotted.items().is_empty() {
            self.out.figure(
                "metrics.png",
                &crate::figures::engines::biome_metrics(title, self.plotted.items())?,
            )?;
        }
        Ok(())
    }

    fn save_frame(&mut self, worlds: &Worlds, w: usize, zoom: u32) -> CliResult<()> {
        let mut image = worlds.render(w, worlds.zoom_that_fits(zoom))?;
        let step = worlds.steps_done();
        // The step counter in a corner; the rest is the world's pixels.
        crate::figures::label_rgba(
            &mut image.rgba,
            image.width,
            image.height,
            &format!("step {step}"),
        )?;
        image.save(&self.frames.join(format!("step_{step:06}.png")))?;
        self.lapse.push(image)?;
        Ok(())
    }
}

/// Runs every world of `worlds` to `plan.steps` in one batch, writing each world's
/// frames, time-lapse, metrics and checkpoints into its directory of `outs`; returns
/// each world's summary.
pub fn grow(
    worlds: &mut Worlds,
    plan: &Plan,
    outs: &[OutDir],
    common: &Common,
) -> CliResult<Vec<Value>> {
    let count = worlds.count();
    let mut tracks: Vec<Track> = outs
        .iter()
        .map(|out| Track::new(out, plan))
        .collect::<CliResult<_>>()?;
    let first = worlds.steps_done();
    let bar = progress(plan.steps - first, "biome", common.quiet);
    let config = worlds.config().clone();
    let titles: Vec<String> = worlds
        .seeds()
        .iter()
        .map(|&seed| describe(&config, seed))
        .collect();
    for (w, track) in tracks.iter_mut().enumerate() {
        track.save_frame(worlds, w, plan.zoom)?;
    }
    let started = Instant::now();
    while worlds.steps_done() < plan.steps {
        let now = worlds.steps_done();
        let next_frame = (now / plan.frames_every + 1) * plan.frames_every;
        let mut stop = next_frame.min(plan.steps);
        if let Some(k) = now.checked_div(plan.checkpoint_every) {
            stop = stop.min((k + 1) * plan.checkpoint_every);
        }
        let mut failed = None;
        worlds
            .run_with(
                stop - now,
                &RunOptions::default().census(true),
                |done, census| {
                    for (track, rows) in tracks.iter_mut().zip(census) {
                        if let Err(e) = track.record(rows) {
                            failed = Some(e);
                            return Err(Error::invalid("writing metrics failed"));
                        }
                    }
                    bar.set_position(done - first);
                    let agents: u64 = census
                        .iter()
                        .filter_map(|rows| rows.last().map(Census::agents))
                        .sum();
                    bar.set_prefix(if count == 1 {
                        format!("{agents} agents")
                    } else {
                        format!("{count} worlds, {agents} agents")
                    });
                    Ok(())
                },
            )
            .map_err(|e| failed.take().unwrap_or_else(|| e.into()))?;
        let at = worlds.steps_done();
        if at.is_multiple_of(plan.frames_every) || at == plan.steps {
            for (w, track) in tracks.iter_mut().enumerate() {
                track.save_frame(worlds, w, plan.zoom)?;
            }
        }
        if plan.checkpoint_every > 0 && at.is_multiple_of(plan.checkpoint_every) {
            for (w, track) in tracks.iter_mut().enumerate() {
                if let Some(dir) = &track.checkpoints {
                    worlds.save_checkpoint(w, &dir.join(format!("step_{at:06}.safetensors")))?;
                }
                track.write_metrics(&titles[w])?;
            }
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut summaries = Vec::with_capacity(count);
    for (w, track) in tracks.iter_mut().enumerate() {
        worlds.save_checkpoint(w, &track.out.join("checkpoint.safetensors"))?;
        track.write_metrics(&titles[w])?;
        track.lapse.save_gif(&track.out.join("timelapse.gif"), 15)?;
        worlds
            .render(w, worlds.zoom_that_fits(plan.zoom.max(4)))?
            .save(&track.out.join("final.png"))?;
        let totals = &track.totals;
        summaries.push(json!({
            "command": "biome",
            "height": config.height,
            "width": config.columns(),
            "programs": format!("{:?}", config.agents.model).to_lowercase(),
            "seed": worlds.seeds()[w],
            "first_step": first,
            "steps": worlds.steps_done(),
            "batch": count,
            "steps_per_second": (worlds.steps_done() - first) as f64 / seconds.max(1e-9),
            "agent_steps": totals.agent_steps,
            "reproductions": totals.reproductions,
            "seeds_placed": totals.seeds,
            "intercepted": config.intercept_reproduction.map(|_| totals.intercepted),
            "final_agents": totals.final_agents,
            "peak_living_ids": totals.peak_living_ids,
            "extinct": totals.extinct(),
            "frames": track.lapse.len(),
            "adapter": worlds.context().adapter().to_string(),
        }));
    }
    Ok(summaries)
}
