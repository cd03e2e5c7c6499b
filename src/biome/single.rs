//! A single world: a batch of one ([`Worlds`]), with the methods that need no world index.

use std::path::Path;

use crate::automata::Image;
use crate::biome::checkpoint::Checkpoint;
use crate::biome::config::BiomeConfig;
use crate::biome::metrics::{Census, Reproductions};
use crate::biome::program::ProgramTable;
use crate::biome::state::WorldState;
use crate::biome::step::{RunOptions, SubStep};
use crate::biome::world::{WorldParts, Worlds};
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::gpu::StepProfile;

/// A Biomaker CA world on the GPU: configuration, seed, step count and grids.
///
/// ```no_run
/// use morphogen::biome::{BiomeConfig, Preset, World};
/// use morphogen::gpu::GpuContext;
///
/// let ctx = GpuContext::new()?;
/// let mut world = World::new(&ctx, &BiomeConfig::preset(Preset::Persistence), 7)?;
/// world.run(100)?;
/// world.render(4)?.save("world.png".as_ref())?;
/// # Ok::<(), morphogen::Error>(())
/// ```
pub struct World {
    batch: Worlds,
}

impl World {
    /// The initial world of `config` (its layout and seed placement) with freshly
    /// initialised programs, random draws keyed by `seed`.
    pub fn new(ctx: &GpuContext, config: &BiomeConfig, seed: u64) -> Result<Self> {
        let state = WorldState::initial(config)?;
        Self::from_state(ctx, config, &state, seed, 0)
    }

    /// A world holding `state` with freshly initialised programs, as if `step` steps had
    /// run under `seed`.
    pub fn from_state(
        ctx: &GpuContext,
        config: &BiomeConfig,
        state: &WorldState,
        seed: u64,
        step: u64,
    ) -> Result<Self> {
        config.validate()?;
        let programs = ProgramTable::initial(config, seed);
        Self::from_parts(ctx, config, state, &programs, seed, step)
    }

    /// A world holding `state` and `programs`, as if `step` steps had run under `seed`.
    pub fn from_parts(
        ctx: &GpuContext,
        config: &BiomeConfig,
        state: &WorldState,
        programs: &ProgramTable,
        seed: u64,
        step: u64,
    ) -> Result<Self> {
        let parts = [WorldParts {
            state: state.clone(),
            programs: programs.clone(),
            seed,
        }];
        Ok(Self {
            batch: Worlds::from_parts(ctx, config, &parts, step)?,
        })
    }

    /// A world continuing from a checkpoint file.
    pub fn resume(ctx: &GpuContext, path: &Path) -> Result<Self> {
        let cp = Checkpoint::load(path)?;
        Self::from_parts(ctx, &cp.config, &cp.world, &cp.programs, cp.seed, cp.step)
    }

    /// The most cells a world of `config`'s agent state can have on this adapter (see
    /// [`Worlds::max_cells`]: the 4-byte grids each in one storage binding, the state and
    /// offers bound in windows).
    pub fn max_cells(ctx: &GpuContext, config: &BiomeConfig) -> u64 {
        Worlds::max_cells(ctx, config)
    }

    /// The batch of one this world is.
    pub fn batch(&self) -> &Worlds {
        &self.batch
    }

    /// Replaces the grids with `state` (same shape as the world).
    pub fn upload(&self, state: &WorldState) -> Result<()> {
        self.batch.upload(0, state)
    }

    /// Reads the grids back to the host.
    pub fn download(&self) -> Result<WorldState> {
        self.batch.download(0)
    }

    /// The program table as it is now (mutation changes it on the GPU).
    pub fn programs(&self) -> Result<ProgramTable> {
        self.batch.programs(0)
    }

    /// Replaces the program table (same model, slots and mutator layout). Slots holding
    /// non-finite values are disabled: their agents take no decisions and the census
    /// counts them.
    pub fn set_programs(&self, programs: &ProgramTable) -> Result<()> {
        self.batch.set_programs(0, programs)
    }

    /// Copies one program into every slot (as the reference does with a loaded program).
    pub fn fill_programs(&self, program: &[f32]) -> Result<()> {
        self.batch.fill_programs(0, program)
    }

    /// Loads a program from a `.npy` file into every slot; its length must be the
    /// configured model's (`agents.model`).
    pub fn load_program(&self, path: &Path) -> Result<()> {
        self.batch.load_program(path)
    }

    /// Loads a program from the bytes of a `.npy` file (`source` names it in errors) into
    /// every slot.
    pub fn load_program_npy(&self, bytes: &[u8], source: &str) -> Result<()> {
        self.batch.load_program_npy(bytes, source)
    }

    /// Agents the per-agent buffers hold: beyond this many agent cells, the rest take no
    /// decisions in a step (every cell, unless one GPU binding cannot hold them).
    pub fn agent_capacity(&self) -> usize {
        self.batch.agent_capacity()
    }

    /// The configuration.
    pub fn config(&self) -> &BiomeConfig {
        self.batch.config()
    }

    /// The seed of the world's random draws.
    pub fn seed(&self) -> u64 {
        self.batch.seeds()[0]
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> u64 {
        self.batch.steps_done()
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.batch.height()
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.batch.width()
    }

    /// The context the world lives on.
    pub fn context(&self) -> &GpuContext {
        self.batch.context()
    }

    /// Renders the world, each cell a `zoom × zoom` square.
    pub fn render(&self, zoom: u32) -> Result<Image> {
        self.batch.render(0, zoom)
    }

    /// [`World::render`] without blocking the thread (the browser's form).
    pub async fn render_async(&self, zoom: u32) -> Result<Image> {
        self.batch.render_async(0, zoom).await
    }

    /// The world's checkpoint (reads the grids back).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        self.batch.checkpoint(0)
    }

    /// Saves a checkpoint file that [`World::resume`] continues exactly.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        self.batch.save_checkpoint(0, path)
    }

    /// Runs one sub-step of the current step on its own, without advancing the step
    /// count (for tests and inspection: a whole step is [`World::run`]). The reproduction
    /// sub-step reports what it did.
    pub fn run_substep(&mut self, sub: SubStep) -> Result<Option<Reproductions>> {
        Ok(self.batch.run_substep(sub)?.map(|mut r| r.remove(0)))
    }

    /// Runs `steps` whole steps, many per submission, with no readback.
    pub fn run(&mut self, steps: u64) -> Result<()> {
        self.batch.run(steps)
    }

    /// Runs `steps` steps in batches of `options.batch`; after each batch, calls
    /// `on_batch` with the steps done so far and (with `options.census`) the census after
    /// each step of the batch. An error from the callback stops the run.
    pub fn run_with(
        &mut self,
        steps: u64,
        options: &RunOptions,
        on_batch: impl FnMut(u64, &[Census]) -> Result<()>,
    ) -> Result<()> {
        pollster::block_on(self.run_with_async(steps, options, on_batch))
    }

    /// [`World::run_with`] without blocking the thread (the browser's form).
    pub async fn run_with_async(
        &mut self,
        steps: u64,
        options: &RunOptions,
        mut on_batch: impl FnMut(u64, &[Census]) -> Result<()>,
    ) -> Result<()> {
        self.batch
            .run_with_async(steps, options, |step, census| {
                on_batch(step, census.first().map_or(&[][..], Vec::as_slice))
            })
            .await
    }

    /// Runs `steps` steps without blocking the thread; returns the census after each
    /// step when `census` is set.
    pub async fn run_async(&mut self, steps: u64, census: bool) -> Result<Vec<Census>> {
        let mut rows = Vec::new();
        let options = RunOptions::default().census(census);
        self.run_with_async(steps, &options, |_, batch| {
            rows.extend_from_slice(batch);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Runs `steps` whole steps (at most [`crate::biome::MAX_STEPS_PER_SUBMIT`]) in one
    /// submission with every compute pass timed: how many dispatches a step takes, and
    /// how the GPU's time divides between the kernels and the gaps between them (dispatch
    /// overhead). Needs timestamp queries for the times.
    pub fn profile_steps(&mut self, steps: usize) -> Result<StepProfile> {
        self.batch.profile_steps(steps)
    }
}
