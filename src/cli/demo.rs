//! `morphogen demo`: the main job on the shipped defaults, in one command.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::json;

use crate::biome::{BiomeConfig, Preset, Width, Worlds};
use crate::cli::biome::{grow, Plan};
use crate::cli::output::{bad, read_points, spinner, CliResult, Failure, OutDir};
use crate::cli::Common;
use crate::coffee::{Automaton, CoffeeConfig, Model, Schedule};
use crate::error::Error;
use crate::figures::engines;
use crate::flow::{self, FlowConfig, LogDensity, Solver, VelocityField};
use crate::transport::{Coupling, PointCloud, Problem, SinkhornConfig};

/// Arguments of `morphogen demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "morphogen-demo")]
    pub out: PathBuf,
    /// Steps of the biome.
    #[arg(long, default_value_t = 2000)]
    pub biome_steps: u64,
    /// Cells per side of the coffee automaton (run for the authors' reference length).
    #[arg(long, default_value_t = 100)]
    pub coffee_size: usize,
    /// Where the shipped assets are (default: `assets/` beside the crate, or in the
    /// current directory).
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

fn assets_dir(args: &DemoArgs) -> CliResult<PathBuf> {
    let candidates = [
        args.assets.clone(),
        Some(PathBuf::from("assets")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("demo_flow.safetensors").is_file())
        .ok_or_else(|| {
            bad(
                "the shipped assets (demo_flow.safetensors, clouds/) were not found: run from \
                 the repository or pass --assets DIR",
            )
        })
}

/// Runs `morphogen demo`.
pub fn run(args: &DemoArgs, common: &Common) -> CliResult<()> {
    let assets = assets_dir(args)?;
    let (x, _) = read_points("--assets", &assets.join("clouds/source.npy"))?;
    let (y, _) = read_points("--assets", &assets.join("clouds/target.npy"))?;
    let field = VelocityField::load(
        &assets.join("demo_flow.safetensors"),
        Some(&assets.join("demo_flow.json")),
    )?;
    let ctx = common.context()?;
    let out = OutDir::prepare(&args.out, args.force)?;
    let say = |line: String| {
        if !common.quiet && !common.json {
            eprintln!("{line}");
        }
    };

    // Optimal transport between the two shipped clouds, and the entropic map.
    let part = Instant::now();
    let spin = spinner("transport", common.quiet);
    let problem = Problem::new(
        PointCloud::new(x.clone(), 2)?,
        PointCloud::new(y.clone(), 2)?,
    )?;
    let config = SinkhornConfig::default()
        .eps_rel(0.005)
        .threshold(1e-4)
        .adaptive_momentum();
    let coupling = Coupling::solve(&ctx, &problem, &config)?;
    let mapped = coupling.map(&x)?;
    let pairs = coupling.sample(300, 1)?;
    spin.finish_and_clear();
    let s = coupling.solution();
    let title = format!(
        "Entropic optimal transport between the shipped clouds, squared Euclidean cost\n{}",
        engines::transport_parameters(s)
    );
    let map_png = out.figure(
        "transport_map.png",
        &engines::transport_map(&title, &x, &y, &mapped, &pairs)?,
    )?;
    let transport_seconds = part.elapsed().as_secs_f64();
    say(format!(
        "transport: {} iterations, marginal error {:.1e} -> {}",
        s.iterations,
        s.marginal_error,
        map_png.display()
    ));

    // The shipped velocity field: eight Gaussians to two moons.
    let part = Instant::now();
    let spin = spinner("flow", common.quiet);
    let n = 2000;
    let x0 = crate::flow::eight_gaussians(n, 5.0, 0.5, 7);
    let times: Vec<f64> = (0..=40).map(|k| f64::from(k) / 40.0).collect();
    let flow_config = FlowConfig::default()
        .solver(Solver::Tsit5)
        .save_at(&times)
        .log_density(LogDensity::Exact, 0);
    // A driver that cannot run the flow kernel (Mesa before 25) skips this part only.
    let mut skipped = Vec::new();
    let flow_summary = match flow::integrate(&ctx, &field, &x0, &[], &flow_config) {
        Ok(result) => {
            spin.finish_and_clear();
            let title = format!(
                "The shipped field, eight Gaussians to two moons: {n} particles\n{}",
                super::flow::describe(&flow_config)
            );
            let flow_png = out.figure(
                "flow_trajectories.png",
                &engines::trajectories(&title, &result)?,
            )?;
            say(format!("flow: {n} particles -> {}", flow_png.display()));
            json!({
                "particles": n,
                "evaluations_per_particle_mean":
                    result.evaluations.iter().map(|&e| f64::from(e)).sum::<f64>() / n as f64,
                "picture": flow_png, "wall_seconds": part.elapsed().as_secs_f64(),
            })
        }
        Err(e @ Error::Unsupported { .. }) => {
            spin.finish_and_clear();
            say(format!("flow: skipped: {e}"));
            skipped.push(format!("the flow part ({e})"));
            json!({ "skipped": e.to_string() })
        }
        Err(e) => return Err(e.into()),
    };

    // A biome grown from the persistence preset.
    let part = Instant::now();
    let config = BiomeConfig::preset(Preset::Persistence)
        .height(72)
        .width(Width::Landscape);
    let mut world = Worlds::new(&ctx, &config, &[1])?;
    let biome_dir = OutDir::prepare(&out.join("biome"), true)?;
    let plan = Plan {
        steps: args.biome_steps.max(1),
        frames_every: (args.biome_steps / 100).max(1),
        checkpoint_every: 0,
        zoom: 3,
    };
    let mut biome = grow(&mut world, &plan, std::slice::from_ref(&biome_dir), common)?.remove(0);
    if let Some(fields) = biome.as_object_mut() {
        fields.insert("wall_seconds".into(), json!(part.elapsed().as_secs_f64()));
    }
    say(format!(
        "biome: {} steps, {} reproductions, {} agents at the end -> {}",
        biome["steps"],
        biome["reproductions"],
        biome["final_agents"],
        biome_dir.join("timelapse.gif").display()
    ));

    // The coffee automaton for its authors' run length: entropy rises, complexity rises
    // and falls.
    let part = Instant::now();
    let coffee_config = CoffeeConfig::default().size(args.coffee_size);
    coffee_config
        .validate()
        .map_err(|e| bad(format!("--coffee-size: {e}")))?;
    let mut automaton = Automaton::new(&ctx, &coffee_config, 1)?;
    let coffee_dir = OutDir::prepare(&out.join("coffee"), true)?;
    let schedule = Schedule::reference(Model::Interacting, args.coffee_size);
    let mut coffee = super::coffee::sample_to_dir(&mut automaton, &schedule, &coffee_dir, common)?;
    if let Some(fields) = coffee.as_object_mut() {
        fields.insert("wall_seconds".into(), json!(part.elapsed().as_secs_f64()));
    }
    say(format!(
        "coffee: {} swaps, complexity peak {:.0} bytes at swap {} -> {}",
        coffee["steps"],
        coffee["peak_complexity"].as_f64().unwrap_or(0.0),
        coffee["peak_complexity_step"],
        coffee_dir.join("curves.png").display()
    ));

    let summary = json!({
        "command": "demo",
        "transport": {
            "iterations": s.iterations, "marginal_error": s.marginal_error,
            "converged": s.converged, "reg_ot_cost": s.reg_ot_cost,
            "picture": map_png, "wall_seconds": transport_seconds,
        },
        "flow": flow_summary,
        "biome": biome,
        "coffee": coffee,
        "adapter": ctx.adapter().to_string(),
    });
    out.summary(summary, common.started, ctx.gpu_seconds(), common.json)?;
    if !skipped.is_empty() {
        return Err(Failure::Unsupported(format!(
            "the demo wrote every other part to {} but skipped {}",
            out.path().display(),
            skipped.join("; ")
        )));
    }
    say(format!("everything is in {}", out.path().display()));
    Ok(())
}
