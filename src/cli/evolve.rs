//! `morphogen evolve`: agent programs evolved by PGPE in petri dishes, as the reference's
//! evolution notebooks do, writing the fitness history, the evolved program and
//! checkpoints that resume exactly.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::biome::evolve::{Evolution, PetriConfig, PgpeConfig};
use crate::biome::{save_program, Preset, Width};
use crate::cli::output::{bad, progress, CliResult, OutDir};
use crate::cli::Common;

/// Arguments of `morphogen evolve`.
#[derive(Args, Debug)]
pub struct EvolveArgs {
    /// The dish's preset: persistence, pestilence, collaboration or sideways.
    #[arg(long, default_value = "persistence")]
    pub preset: String,
    /// Rows of the dish.
    #[arg(long, default_value_t = 16)]
    pub height: u32,
    /// Columns of the dish, or wide, landscape, square, petri (half the height).
    #[arg(long, default_value = "landscape")]
    pub width: String,
    /// Programs per generation (even: PGPE samples antithetic pairs).
    #[arg(long, default_value_t = 64)]
    pub population: usize,
    /// Generations to run (more, when resuming).
    #[arg(long, default_value_t = 30)]
    pub generations: u64,
    /// Steps each program lives in its dish.
    #[arg(long, default_value_t = 2000)]
    pub steps_per_eval: u64,
    /// The agent-cell count the fitness rewards staying near.
    #[arg(long, default_value_t = 50.0)]
    pub target_agents: f64,
    /// Fitness of one successful reproduction (default: 4 × the target).
    #[arg(long)]
    pub reproduction_weight: Option<f64>,
    /// Adam's step size for PGPE's centre.
    #[arg(long, default_value_t = 0.001)]
    pub center_lr: f64,
    /// PGPE's initial stdev of every parameter.
    #[arg(long, default_value_t = 0.001)]
    pub init_stdev: f64,
    /// Seed of the initial program, PGPE's noise and the dishes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write `checkpoints/generation_K.safetensors` every K generations.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Continue an evolution from its checkpoint, up to --generations in all.
    #[arg(long, conflicts_with_all = ["preset", "height", "width", "population", "steps_per_eval", "target_agents", "reproduction_weight", "center_lr", "init_stdev", "seed"])]
    pub resume: Option<PathBuf>,
    /// Output directory (must be empty or absent unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

fn configure(args: &EvolveArgs) -> CliResult<Evolution> {
    let preset: Preset = args
        .preset
        .parse()
        .map_err(|e| bad(format!("--preset: {e}")))?;
    let width: Width = args
        .width
        .parse()
        .map_err(|e| bad(format!("--width: {e}")))?;
    let mut petri = PetriConfig::new(preset, args.height, width);
    petri.steps = args.steps_per_eval;
    petri.target_agents = args.target_agents;
    petri.reproduction_weight = args.reproduction_weight.unwrap_or(4.0 * args.target_agents);
    let pgpe = PgpeConfig {
        population: args.population,
        center_learning_rate: args.center_lr,
        init_stdev: args.init_stdev,
        ..PgpeConfig::default()
    };
    pgpe.validate()
        .map_err(|e| bad(format!("--population/--center-lr/--init-stdev: {e}")))?;
    Evolution::new(petri, pgpe, args.seed).map_err(|e| bad(e.to_string()))
}

fn fitness_csv(evolution: &Evolution) -> String {
    let mut csv = String::from("generation,best,mean\n");
    for g in &evolution.history {
        csv.push_str(&format!("{},{},{}\n", g.generation, g.best, g.mean));
    }
    csv
}

fn write_outputs(out: &OutDir, evolution: &Evolution) -> CliResult<()> {
    out.write("fitness.csv", fitness_csv(evolution).as_bytes())?;
    save_program(&out.join("best_program.npy"), &evolution.program())?;
    evolution.save(&out.join("checkpoint.safetensors"))?;
    if !evolution.history.is_empty() {
        out.figure(
            "fitness.png",
            &crate::figures::engines::evolution(&title(evolution), &evolution.history)?,
        )?;
    }
    Ok(())
}

fn title(evolution: &Evolution) -> String {
    let w = &evolution.petri.world;
    format!(
        "PGPE in petri dishes: {} x {}, population {}, {} steps each",
        w.height,
        w.columns(),
        evolution.pgpe.config.population,
        evolution.petri.steps
    )
}

/// Runs `morphogen evolve`.
pub fn run(args: &EvolveArgs, common: &Common) -> CliResult<()> {
    let mut evolution = match &args.resume {
        Some(path) => {
            if !path.is_file() {
                return Err(bad(format!("--resume {}: no such file", path.display())));
            }
            Evolution::load(path).map_err(|e| bad(format!("--resume {e}")))?
        }
        None => configure(args)?,
    };
    if args.checkpoint_every == Some(0) {
        return Err(bad("--checkpoint-every counts generations: at least 1"));
    }
    let done = evolution.pgpe.generation;
    if args.generations <= done {
        return Err(bad(format!(
            "--generations {} is not beyond the {done} generations already run",
            args.generations
        )));
    }
    let ctx = common.context()?;
    let out = OutDir::prepare(&args.out, args.force)?;
    let population = evolution.pgpe.config.population as u64;
    let bar = progress(
        (args.generations - done) * population,
        "evolve",
        common.quiet,
    );
    let started = std::time::Instant::now();
    while evolution.pgpe.generation < args.generations {
        let g0 = evolution.pgpe.generation - done;
        let generation = evolution.step(&ctx, |dishes| {
            bar.set_position(g0 * population + dishes as u64);
            Ok(())
        })?;
        bar.set_prefix(format!(
            "best {:.1}, mean {:.1}",
            generation.best, generation.mean
        ));
        if !common.quiet && !common.json && bar.is_hidden() {
            eprintln!(
                "generation {}: best {:.2}, mean {:.2}",
                generation.generation, generation.best, generation.mean
            );
        }
        let at = evolution.pgpe.generation;
        if let Some(k) = args.checkpoint_every {
            if at.is_multiple_of(k) && at < args.generations {
                write_outputs(&out, &evolution)?;
                let dir = out.subdir("checkpoints")?;
                evolution.save(&dir.join(format!("generation_{at:04}.safetensors")))?;
            }
        }
    }
    bar.finish_and_clear();
    write_outputs(&out, &evolution)?;
    let last = evolution.history.last().copied();
    let w = &evolution.petri.world;
    let summary = json!({
        "command": "evolve",
        "preset_world": {"height": w.height, "width": w.columns()},
        "population": evolution.pgpe.config.population,
        "generations": evolution.pgpe.generation,
        "steps_per_eval": evolution.petri.steps,
        "target_agents": evolution.petri.target_agents,
        "reproduction_weight": evolution.petri.reproduction_weight,
        "min_reproduction_energy": w.intercept_reproduction,
        "seed": evolution.pgpe.seed,
        "first_mean_fitness": evolution.history.first().map(|g| g.mean),
        "last_mean_fitness": last.map(|g| g.mean),
        "last_best_fitness": last.map(|g| g.best),
        "seconds": started.elapsed().as_secs_f64(),
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !common.quiet && !common.json {
        eprintln!("wrote {}", out.path().display());
    }
    Ok(())
}
