//! Biomaker CA: plant-like organisms grow, compete and evolve on a 2-D grid of materials.
//!
//! A [`World`] keeps its grids on the GPU; the sub-steps of the environment (soil
//! balance, structural integrity, gravity, reproduction, the agents' parallel ops, energy,
//! exclusive material ops, aging) run as WGSL kernels (the table below), and many steps
//! record into one submission. [`Worlds`] runs many worlds of one configuration as one
//! batch (every kernel covers the batch; each world keeps its seed, programs and census,
//! and runs bit for bit as it runs alone); a [`World`] is a batch of one.
//! [`mod@reference`] is the CPU twin of every sub-step, drawing the same random numbers.
//! The grids wider than 4 bytes a cell (state, previous state, offers, reproduction
//! candidates) are bound in windows of at most one storage binding, which kernels reach
//! through generated accessors (`banks`), so a world is not limited to one binding.
//! Kernels that read a cell's 3x3 window (integrity, diffusion, the exclusive ops'
//! proposals and choices) walk column strips of eight rows with the window in registers
//! (`Strip` in `shaders/common/biome.wgsl`), three reads a cell instead of nine. The
//! extended programs' networks are WGSL generated for the state size (`nets`: the
//! snippet `biome/nets`), written out rather than looped over inputs and outputs.
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
//!
//! # Kernels
//!
//! Every kernel is driven by `step` (the sub-steps, in [`SubStep`] order, and the census)
//! except `render.wgsl` (`render`); the CPU twins are in [`mod@reference`] and the tests in
//! `tests/biome_world.rs` (every sub-step against its twin) and `tests/biome_agents.rs`.
//! Whole steps fuse four dispatches, through defines, where sub-steps run alone keep
//! theirs: the last integrity pass lists the agents (ENLIST) and gravity moves the
//! entries of falling agents and writes the list's dispatch arguments (LIST_MOVES), in
//! place of `agent_list` and `agent_args` before reproduction; the proposals write the
//! exclusive ops' arguments (AGENT_ARGS); `apply` ages the agents (AGING).
//!
//! | kernel (`shaders/biome/`) | sub-step | CPU twin |
//! |---|---|---|
//! | `soil.wgsl` | soil balance | `reference::soil_balance` |
//! | `integrity.wgsl` | structural integrity | `reference::integrity` |
//! | `gravity.wgsl` | gravity | `reference::gravity` |
//! | `flowers.wgsl`, `reproduce.wgsl` | reproduction | `reference::reproduction`, `reference::mutate` |
//! | `agent_list.wgsl`, `agent_args.wgsl` | the agents' indirect dispatch | (none: a work list) |
//! | `parallel.wgsl`, `parallel_apply.wgsl` | parallel agent ops | `reference::parallel` |
//! | `diffuse.wgsl`, `energy.wgsl` | energy | `reference::offers`, `reference::energy` |
//! | `propose.wgsl`, `spawn.wgsl`, `choose.wgsl`, `apply.wgsl` | exclusive ops | `reference::proposals`, `reference::spawn_proposals`, `reference::choices`, `reference::exclusive` |
//! | `age.wgsl` | aging | `reference::aging` |
//! | `census.wgsl`, `census_ids.wgsl` | the census after a step | [`WorldState::census`] |
//! | `render.wgsl` | pictures | [`render_cpu`] |

pub mod agent_logic;
mod agents;
mod banks;
mod checkpoint;
mod config;
pub mod evolve;
mod metrics;
mod nets;
mod params;
pub mod program;
pub mod reference;
mod render;
mod single;
mod state;
mod step;
mod world;

pub use crate::automata::{Image, TimeLapse};
pub use crate::gpu::StepProfile;
pub use agents::MAX_REPRODUCTIONS_PER_STEP;
#[doc(hidden)]
pub use banks::sample_sources as banked_grid_sources;
#[doc(hidden)]
pub use banks::KERNEL_STORAGE_BINDINGS;
pub use checkpoint::Checkpoint;
pub use config::{BiomeConfig, Layout, Preset, Width};
pub use metrics::{Census, Reproductions, RunTotals};
#[doc(hidden)]
pub use nets::nets_source as agent_nets_source;
pub use program::{
    load_program, program_from_npy, save_program, AgentConfig, AgentModel, Mutator, ProgramLayout,
    ProgramTable,
};
pub use render::{cell_colour, render_cpu};
pub use single::World;
pub use state::{channel, kind, WorldState};
pub use step::{bytes_per_cell_step, RunOptions, SubStep, MAX_STEPS_PER_SUBMIT};
pub use world::{WorldParts, Worlds};
