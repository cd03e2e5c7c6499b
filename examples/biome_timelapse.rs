//! Visual check of Biomaker CA end to end: a seed grows on the persistence preset
//! (72 x 128) into a plant, flowers reproduce, programs mutate. Writes a time-lapse
//! (animated PNG) and the last frame, and prints the census every 100 steps.
//!
//! `cargo run --release --example biome_timelapse [-- OUT_DIR [STEPS [PROGRAM.npy|minimal]]]`
//!
//! Without a program the seed runs freshly initialised extended programs; `minimal` runs
//! the minimal ones; a `.npy` file (e.g. `assets/biomaker/persistence_1697720583799231923.npy`)
//! is copied into every slot.

use std::path::PathBuf;

use morphogen::biome::{
    AgentModel, BiomeConfig, Preset, RunOptions, RunTotals, TimeLapse, Width, World,
};
use morphogen::gpu::GpuContext;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "biome_timelapse".into()));
    let steps: u64 = args.next().map_or(Ok(1000), |s| s.parse())?;
    let program = args.next();
    std::fs::create_dir_all(&out)?;
    let ctx = GpuContext::new()?;
    let mut config = BiomeConfig::preset(Preset::Persistence)
        .height(72)
        .width(Width::Landscape);
    if program.as_deref() == Some("minimal") {
        config.agents.model = AgentModel::Minimal;
    }
    let mut world = World::new(&ctx, &config, 3)?;
    if let Some(path) = program.filter(|p| p != "minimal") {
        world.load_program(path.as_ref())?;
    }
    let mut lapse = TimeLapse::new();
    lapse.push(world.render(3)?)?;
    let mut totals = RunTotals::default();
    while world.steps_done() < steps {
        let batch = (steps - world.steps_done()).min(20);
        world.run_with(
            batch,
            &RunOptions::default().census(true),
            |done, census| {
                for c in census {
                    totals.add(c);
                }
                if let Some(c) = census.last().filter(|_| done % 100 == 0) {
                    let [u, r, l, f] = c.by_specialization();
                    println!(
                        "step {done:>5}: {:>4} agents (unspecialized {u}, root {r}, leaf {l}, \
                         flower {f}), {} living programs, {} reproductions so far",
                        c.agents(),
                        c.living_ids,
                        totals.reproductions,
                    );
                }
                Ok(())
            },
        )?;
        lapse.push(world.render(3)?)?;
    }
    lapse.save(&out.join("growth.png"), 15)?;
    world.render(4)?.save(&out.join("final.png"))?;
    println!(
        "wrote {}/growth.png ({} frames) and final.png; {} agent-steps, {} reproductions, \
         {}",
        out.display(),
        lapse.len(),
        totals.agent_steps,
        totals.reproductions,
        if totals.extinct() { "extinct" } else { "alive" }
    );
    Ok(())
}
