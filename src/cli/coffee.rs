//! `morphogen coffee`: the Coffee Automaton, writing its entropy and complexity curves,
//! row profiles, frames, a time-lapse, checkpoints, and (with `--sizes`) the scaling study.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::automata::{Image, TimeLapse};
use crate::cli::output::{bad, progress, CliResult, OutDir};
use crate::cli::Common;
use crate::coffee::{
    render, scaling_fit, Adjust, Automaton, Boundary, Checkpoint, CoffeeConfig, Curve, Extremes,
    Model, Quantity, Sample, Schedule,
};
use crate::gpu::GpuContext;

/// Arguments of `morphogen coffee`.
#[derive(Args, Debug)]
pub struct CoffeeArgs {
    /// `interacting` (one swap of differing neighbours per step: the paper's main model)
    /// or `noninteracting` (every cream particle moves each step).
    #[arg(long, default_value = "interacting")]
    pub model: String,
    /// Cells per side (even, at least 4).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Steps to run (swaps for the interacting model). Without it, the authors' reference
    /// length: four times their fitted mixing time (42.5 million swaps at n = 100).
    #[arg(long, conflicts_with = "reference_length")]
    pub steps: Option<u64>,
    /// Run the authors' reference length (the default when --steps is absent).
    #[arg(long)]
    pub reference_length: bool,
    /// Samples at most, step 0 included (at least 2), evenly spaced. Default: the
    /// authors' interval (every 1/400 of their mixing time) over the reference length, 401
    /// with --steps.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Independent replicas run side by side; curves are their means, with standard errors.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Side of the coarse-graining window (odd). Default: round(√n), minus one if even.
    #[arg(long)]
    pub grain: Option<usize>,
    /// Adjustment of the 7-bucket state: `rowwise` (the authors' code) or `cellwise` (the
    /// paper's words).
    #[arg(long, default_value = "rowwise")]
    pub adjust: String,
    /// `closed` (the paper's box) or `periodic`.
    #[arg(long, default_value = "closed")]
    pub boundary: String,
    /// Seed of every replica's random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A frame (fine | coarse | adjusted) every K samples. Default: about 100 frames.
    #[arg(long)]
    pub frames_every: Option<usize>,
    /// Write `checkpoints/sample_K.safetensors` every K samples (`checkpoint.safetensors`
    /// is written at the end of every run).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue a run from its checkpoint (its configuration, seed and schedule).
    #[arg(long, conflicts_with_all = ["model", "size", "steps", "reference_length", "samples", "replicas", "grain", "adjust", "boundary", "seed", "sizes"])]
    pub resume: Option<PathBuf>,
    /// The scaling study (the paper's Figs. 6-8): comma-separated sizes, e.g.
    /// `20,40,60,80,100`, each run for both models.
    #[arg(long, conflicts_with = "size")]
    pub sizes: Option<String>,
    /// Pixels per cell in frames.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
    /// Output directory (must be empty or absent unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

fn parse_named<T>(
    flag: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> CliResult<T> {
    parse(value).ok_or_else(|| bad(format!("--{flag} {value:?}: expected {allowed}")))
}

fn configure(args: &CoffeeArgs, size: usize) -> CliResult<CoffeeConfig> {
    let config = CoffeeConfig {
        model: parse_named(
            "model",
            &args.model,
            Model::parse,
            "interacting or noninteracting",
        )?,
        size,
        replicas: args.replicas,
        grain: args.grain,
        adjust: parse_named("adjust", &args.adjust, Adjust::parse, "rowwise or cellwise")?,
        boundary: parse_named(
            "boundary",
            &args.boundary,
            Boundary::parse,
            "closed or periodic",
        )?,
    };
    config.validate().map_err(|e| {
        let flag = if e.starts_with("size") {
            "--size"
        } else if e.starts_with("grain") {
            "--grain"
        } else {
            "--replicas"
        };
        bad(format!("{flag}: {e}"))
    })?;
    Ok(config)
}

fn schedule(args: &CoffeeArgs, model: Model, size: usize) -> CliResult<Schedule> {
    Schedule::requested(model, size, args.steps, args.samples).map_err(|e| bad(format!("--{e}")))
}

/// A sampled run into `out` with the command's defaults (frames, no checkpoints), for
/// the demo: returns what `summary.json` of `morphogen coffee` holds.
pub(crate) fn sample_to_dir(
    automaton: &mut Automaton,
    schedule: &Schedule,
    out: &OutDir,
    common: &Common,
) -> CliResult<Value> {
    let plan = Plan {
        frames_every: (schedule.len() / 100).max(1),
        checkpoint_every: None,
        zoom: 3,
        frames: true,
    };
    let record = sample_run(
        automaton,
        schedule,
        &plan,
        out,
        common,
        Vec::new(),
        Vec::new(),
    )?;
    let ctx = automaton.context().clone();
    let summary = describe(automaton, schedule, &record, &ctx);
    out.summary(summary.clone(), Instant::now(), None, false)?;
    Ok(summary)
}

/// Runs `morphogen coffee`.
pub fn run(args: &CoffeeArgs, common: &Common) -> CliResult<()> {
    if args.replicas == 0 {
        return Err(bad("--replicas: at least 1"));
    }
    if args.frames_every == Some(0) || args.checkpoint_every == Some(0) {
        return Err(bad(
            "--frames-every and --checkpoint-every count samples: at least 1",
        ));
    }
    if let Some(sizes) = &args.sizes {
        return scaling(args, sizes, common);
    }
    let (config, seed, schedule, resumed) = match &args.resume {
        Some(path) => {
            if !path.is_file() {
                return Err(bad(format!("--resume {}: no such file", path.display())));
            }
            let cp = Checkpoint::load(path).map_err(|e| bad(format!("--resume {e}")))?;
            (cp.config.clone(), cp.seed, cp.schedule, Some(cp))
        }
        None => {
            let config = configure(args, args.size)?;
            let schedule = schedule(args, config.model, config.size)?;
            (config, args.seed, schedule, None)
        }
    };
    let ctx = common.context()?;
    let mut automaton = match &resumed {
        Some(cp) => cp.resume(&ctx)?,
        None => Automaton::new(&ctx, &config, seed)?,
    };
    let out = OutDir::prepare(&args.out, args.force)?;
    let plan = Plan {
        frames_every: args.frames_every.unwrap_or((schedule.len() / 100).max(1)),
        checkpoint_every: args.checkpoint_every,
        zoom: args.zoom.max(1),
        frames: true,
    };
    let (curves, profile) = match resumed {
        Some(cp) => (cp.curves, cp.profile),
        None => (Vec::new(), Vec::new()),
    };
    let record = sample_run(
        &mut automaton,
        &schedule,
        &plan,
        &out,
        common,
        curves,
        profile,
    )?;
    let summary = describe(&automaton, &schedule, &record, &ctx);
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!("wrote {}", out.path().display());
    }
    Ok(())
}

struct Plan {
    frames_every: usize,
    checkpoint_every: Option<usize>,
    zoom: u32,
    frames: bool,
}

/// What a run recorded: one curve row per sample, and the seconds it took.
struct Record {
    curves: Vec<Curve>,
    seconds: f64,
}

fn clock_name(model: Model) -> &'static str {
    match model {
        Model::Interacting => "swaps",
        Model::NonInteracting => "steps",
    }
}

fn title(config: &CoffeeConfig) -> String {
    format!(
        "Coffee, {} {}x{}, g = {}, {} replica{}",
        config.model.name(),
        config.size,
        config.size,
        config.grain_size(),
        config.replicas,
        if config.replicas == 1 { "" } else { "s" }
    )
}

fn frame(sample: &Sample, config: &CoffeeConfig, zoom: u32) -> CliResult<Image> {
    let fine_max = match config.model {
        Model::Interacting => 1,
        Model::NonInteracting => 2,
    };
    let mut image = render(&sample.first, fine_max, zoom);
    crate::figures::label_rgba(
        &mut image.rgba,
        image.width,
        image.height,
        &format!("{} {}", clock_name(config.model), sample.step),
    )?;
    Ok(image)
}

fn sample_run(
    automaton: &mut Automaton,
    schedule: &Schedule,
    plan: &Plan,
    out: &OutDir,
    common: &Common,
    mut curves: Vec<Curve>,
    mut profile: Vec<f64>,
) -> CliResult<Record> {
    let config = automaton.config().clone();
    let frames = if plan.frames {
        Some(out.subdir("frames")?)
    } else {
        None
    };
    let times: Vec<(usize, u64)> = schedule.times().enumerate().skip(curves.len()).collect();
    let bar = progress(schedule.len() as u64, "coffee", common.quiet);
    bar.set_position(curves.len() as u64);
    let started = Instant::now();
    let last_index = schedule.len() - 1;
    let segment = plan
        .checkpoint_every
        .unwrap_or(usize::MAX)
        .min(times.len().max(1));
    for chunk in times.chunks(segment) {
        automaton.run_at(chunk, |sample| {
            curves.push(sample.curve());
            profile.extend_from_slice(&sample.profile);
            bar.set_position(sample.index as u64 + 1);
            bar.set_prefix(format!("complexity {:.0} B", sample.complexity().mean));
            if let Some(dir) = &frames {
                if sample.index % plan.frames_every == 0 || sample.index == last_index {
                    let image = frame(sample, &config, plan.zoom)
                        .map_err(|f| crate::Error::invalid(f.message().to_string()))?;
                    image.save(&dir.join(format!("sample_{:05}.png", sample.index)))?;
                }
            }
            Ok(())
        })?;
        if plan.checkpoint_every.is_some() && curves.len() < schedule.len() {
            write_tables(out, &config, &curves, &profile)?;
            let dir = out.subdir("checkpoints")?;
            let name = format!("sample_{:05}.safetensors", curves.len() - 1);
            save_checkpoint(automaton, schedule, &curves, &profile, &dir.join(name))?;
        }
    }
    save_checkpoint(
        automaton,
        schedule,
        &curves,
        &profile,
        &out.join("checkpoint.safetensors"),
    )?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    write_tables(out, &config, &curves, &profile)?;
    out.figure(
        "curves.png",
        &crate::figures::engines::coffee_curves(
            &title(&config),
            clock_name(config.model),
            &curves,
        )?,
    )?;
    if let Some(dir) = &frames {
        time_lapse(dir, &out.join("timelapse.gif"))?;
    }
    Ok(Record { curves, seconds })
}

fn save_checkpoint(
    automaton: &Automaton,
    schedule: &Schedule,
    curves: &[Curve],
    profile: &[f64],
    path: &Path,
) -> CliResult<()> {
    Checkpoint {
        config: automaton.config().clone(),
        seed: automaton.seed(),
        state: automaton.state()?,
        schedule: *schedule,
        curves: curves.to_vec(),
        profile: profile.to_vec(),
    }
    .save(path)?;
    Ok(())
}

/// The GIF from every frame in `frames` (a resumed run's earlier frames included).
fn time_lapse(frames: &Path, path: &Path) -> CliResult<()> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(frames)
        .map_err(|e| bad(format!("{}: {e}", frames.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    names.sort();
    let mut lapse = TimeLapse::new();
    for name in names {
        let (width, height, rgba) = crate::io::read_png(&name)?;
        lapse.push(Image {
            width,
            height,
            rgba,
        })?;
    }
    if !lapse.is_empty() {
        lapse.save_gif(path, 12)?;
    }
    Ok(())
}

fn curves_csv(curves: &[Curve]) -> String {
    let mut csv = String::from(
        "step,attempts,entropy,complexity,adjusted_complexity,entropy_se,complexity_se,adjusted_complexity_se\n",
    );
    for c in curves {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            c.step,
            c.attempts,
            c.entropy.mean,
            c.complexity.mean,
            c.adjusted_complexity.mean,
            c.entropy.se,
            c.complexity.se,
            c.adjusted_complexity.se
        ));
    }
    csv
}

fn write_tables(
    out: &OutDir,
    config: &CoffeeConfig,
    curves: &[Curve],
    profile: &[f64],
) -> CliResult<()> {
    out.write("curves.csv", curves_csv(curves).as_bytes())?;
    out.npy("profile.npy", profile, &[curves.len(), config.size])?;
    Ok(())
}

/// The sample of largest mean complexity: (its step, the complexity).
fn peak(curves: &[Curve]) -> (u64, f64) {
    curves
        .iter()
        .max_by(|a, b| a.complexity.mean.total_cmp(&b.complexity.mean))
        .map_or((0, 0.0), |c| (c.step, c.complexity.mean))
}

fn describe(
    automaton: &Automaton,
    schedule: &Schedule,
    record: &Record,
    ctx: &GpuContext,
) -> Value {
    let config = automaton.config();
    let (peak_step, peak_complexity) = peak(&record.curves);
    let adjusted_peak = record
        .curves
        .iter()
        .map(|c| c.adjusted_complexity.mean)
        .fold(0.0f64, f64::max);
    let last = record.curves.last();
    json!({
        "command": "coffee",
        "model": config.model.name(),
        "n": config.size,
        "grain": config.grain_size(),
        "adjust": config.adjust.name(),
        "boundary": config.boundary.name(),
        "replicas": config.replicas,
        "seed": automaton.seed(),
        "steps": schedule.last(),
        "sample_interval": schedule.interval,
        "samples": record.curves.len(),
        "clock": clock_name(config.model),
        "peak_complexity": peak_complexity,
        "peak_complexity_step": peak_step,
        "peak_adjusted_complexity": adjusted_peak,
        "final_entropy": last.map(|c| c.entropy.mean),
        "final_complexity": last.map(|c| c.complexity.mean),
        "mean_attempts": last.map(|c| c.attempts),
        "seconds": record.seconds,
        "adapter": ctx.adapter().name,
        "compression": format!("raw DEFLATE, level {}", crate::coffee::LEVEL),
    })
}

/// The scaling study: every size, both models.
fn scaling(args: &CoffeeArgs, sizes: &str, common: &Common) -> CliResult<()> {
    let sizes: Vec<usize> = sizes
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            bad(format!(
                "--sizes {sizes:?}: expected comma-separated sizes, e.g. 20,40,60"
            ))
        })?;
    if sizes.len() < 3 {
        return Err(bad(
            "--sizes: at least 3 sizes (a quadratic fit has 3 coefficients)",
        ));
    }
    let mut runs = Vec::new();
    for &n in &sizes {
        for model in [Model::Interacting, Model::NonInteracting] {
            let mut config = configure(args, n)?;
            config.model = model;
            config
                .validate()
                .map_err(|e| bad(format!("--sizes {n}: {e}")))?;
            runs.push((config.clone(), schedule(args, model, n)?));
        }
    }
    let ctx = common.context()?;
    let out = OutDir::prepare(&args.out, args.force)?;
    let mut rows = Vec::new();
    for (config, schedule) in &runs {
        let dir = OutDir::prepare(
            &out.join(&format!("n{}_{}", config.size, config.model.name())),
            true,
        )?;
        let mut automaton = Automaton::new(&ctx, config, args.seed)?;
        let plan = Plan {
            frames_every: usize::MAX,
            checkpoint_every: None,
            zoom: 1,
            frames: false,
        };
        if !common.quiet && !common.json {
            eprintln!("{}", title(config));
        }
        let record = sample_run(
            &mut automaton,
            schedule,
            &plan,
            &dir,
            common,
            Vec::new(),
            Vec::new(),
        )?;
        dir.summary(
            describe(&automaton, schedule, &record, &ctx),
            Instant::now(),
            None,
            false,
        )?;
        rows.push(Extremes::of(config.model, config.size, &record.curves));
    }
    let mut csv = String::from("model,n,max_entropy,max_complexity,time_of_max_complexity\n");
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            r.model.name(),
            r.n,
            r.max_entropy,
            r.max_complexity,
            r.time_of_max
        ));
    }
    out.write("scaling.csv", csv.as_bytes())?;
    let mut fits = serde_json::Map::new();
    for quantity in Quantity::ALL {
        for model in [Model::Interacting, Model::NonInteracting] {
            let Some(fit) = scaling_fit(&rows, model, quantity).1 else {
                continue;
            };
            if !common.quiet && !common.json {
                eprintln!(
                    "{} ({}): {} (r² = {:.4})",
                    quantity.key(),
                    model.name(),
                    fit.formula("n"),
                    fit.r_squared
                );
            }
            fits.insert(
                format!("{}_{}", quantity.key(), model.name()),
                json!({"coefficients": fit.coefficients, "r_squared": fit.r_squared,
                       "degree": quantity.degree()}),
            );
        }
    }
    out.figure(
        "scaling.png",
        &crate::figures::engines::coffee_scaling(&rows)?,
    )?;
    let summary = json!({
        "command": "coffee-scaling",
        "sizes": sizes,
        "replicas": args.replicas,
        "seed": args.seed,
        "fits": fits,
    });
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!("wrote {}", out.path().display());
    }
    Ok(())
}
