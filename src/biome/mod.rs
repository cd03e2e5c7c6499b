//! Biomaker CA: plant-like organisms grow, compete and evolve on a 2-D grid of materials.
//!
//! A [`World`] keeps its grids on the GPU; every sub-step of the environment (soil
//! balance, structural integrity, gravity, energy, exclusive material ops, aging) is one
//! WGSL kernel, and many steps record into one submission. [`mod@reference`] is the CPU twin
//! of every sub-step, drawing the same random numbers.
//!
//! ```no_run
//! use morphogen::biome::{BiomeConfig, Preset, RunOptions, World};
//! use morphogen::gpu::GpuContext;
//!
//! let ctx = GpuContext::new()?;
//! let config = BiomeConfig::preset(Preset::Persistence).height(72);
//! let mut world = World::new(&ctx, &config, 42)?;
//! world.run_with(500, &RunOptions::default().census(true), |step, census| {
//!     if let Some(last) = census.last() {
//!         println!("step {step}: {} agent cells", last.agents());
//!     }
//!     Ok(())
//! })?;
//! world.save_checkpoint("world.safetensors".as_ref())?;
//! # Ok::<(), morphogen::Error>(())
//! ```

pub mod agent_logic;
mod agents;
mod checkpoint;
mod config;
mod metrics;
mod params;
pub mod program;
pub mod reference;
mod render;
mod state;
mod step;
mod world;

pub use agents::MAX_REPRODUCTIONS_PER_STEP;
pub use checkpoint::Checkpoint;
pub use config::{BiomeConfig, Layout, Preset, Width};
pub use metrics::{Census, RunTotals};
pub use program::{
    load_program, program_from_npy, save_program, AgentConfig, AgentModel, Mutator, ProgramLayout,
    ProgramTable,
};
pub use render::{cell_colour, render_cpu, Image, TimeLapse};
pub use state::{channel, kind, WorldState};
pub use step::{bytes_per_cell_step, RunOptions, SubStep, MAX_STEPS_PER_SUBMIT};
pub use world::World;
