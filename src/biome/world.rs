//! A world resident on the GPU: its grids, the scratch the sub-steps share, and moving
//! worlds between host and device.

use std::path::Path;

use crate::biome::agents::AgentTables;
use crate::biome::config::BiomeConfig;
use crate::biome::program::{program_from_npy, ProgramTable};
use crate::biome::state::WorldState;
use crate::biome::step::StepKernels;
use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext};

/// The buffers of one world.
pub(crate) struct Grids {
    pub types: GpuBuffer<u32>,
    pub state: GpuBuffer<f32>,
    pub ids: GpuBuffer<u32>,
    /// The grid before the exclusive ops, which read neighbours' old contents.
    pub prev_types: GpuBuffer<u32>,
    pub prev_state: GpuBuffer<f32>,
    pub prev_ids: GpuBuffer<u32>,
    /// Integrity ping-pong.
    pub integrity: [GpuBuffer<f32>; 2],
    /// What each material cell offers the agents around it (diffuse → energy).
    pub offer: GpuBuffer<[f32; 4]>,
    /// Exclusive ops: each cell's proposed slot, each target's accepted slot.
    pub proposal: GpuBuffer<u32>,
    pub choice: GpuBuffer<u32>,
}

impl Grids {
    fn new(ctx: &GpuContext, cells: usize, channels: usize) -> Result<Self> {
        let label = |name: &str| format!("morphogen.biome.{name}");
        Ok(Self {
            types: GpuBuffer::zeroed(ctx, cells, &label("types"))?,
            state: GpuBuffer::zeroed(ctx, cells * channels, &label("state"))?,
            ids: GpuBuffer::zeroed(ctx, cells, &label("ids"))?,
            prev_types: GpuBuffer::zeroed(ctx, cells, &label("prev_types"))?,
            prev_state: GpuBuffer::zeroed(ctx, cells * channels, &label("prev_state"))?,
            prev_ids: GpuBuffer::zeroed(ctx, cells, &label("prev_ids"))?,
            integrity: [
                GpuBuffer::zeroed(ctx, cells, &label("integrity_a"))?,
                GpuBuffer::zeroed(ctx, cells, &label("integrity_b"))?,
            ],
            offer: GpuBuffer::zeroed(ctx, cells, &label("offer"))?,
            proposal: GpuBuffer::zeroed(ctx, cells, &label("proposal"))?,
            choice: GpuBuffer::zeroed(ctx, cells, &label("choice"))?,
        })
    }
}

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
    pub(crate) ctx: GpuContext,
    pub(crate) config: BiomeConfig,
    pub(crate) seed: u64,
    pub(crate) step: u64,
    pub(crate) grids: Grids,
    pub(crate) agents: AgentTables,
    pub(crate) kernels: StepKernels,
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
        config.validate()?;
        check_shape(config, state)?;
        let cells = state.cells();
        let channels = state.channels;
        let state_bytes = (cells * channels * 4) as u64;
        let limit = ctx.max_binding_bytes();
        if state_bytes > limit {
            return Err(Error::LimitExceeded {
                what: format!(
                    "the state of a {}x{} world ({channels} channels)",
                    state.height, state.width
                ),
                requested: state_bytes,
                limit,
                limit_name: "max_storage_buffer_binding_size",
                hint: "use a smaller world or fewer agent state channels",
            });
        }
        let grids = Grids::new(ctx, cells, channels)?;
        let agents = AgentTables::new(ctx, config, cells, programs)?;
        let kernels = StepKernels::new(ctx, &grids, &agents)?;
        let world = Self {
            ctx: ctx.clone(),
            config: config.clone(),
            seed,
            step,
            grids,
            agents,
            kernels,
        };
        world.upload(state)?;
        Ok(world)
    }

    /// The most cells a world of `config`'s agent state can have on this adapter: its
    /// state (4 + `agent_state_size` f32 channels per cell) lives in one storage binding.
    pub fn max_cells(ctx: &GpuContext, config: &BiomeConfig) -> u64 {
        ctx.max_binding_bytes() / (config.state_channels() as u64 * 4)
    }

    /// Replaces the grids with `state` (same shape as the world).
    pub fn upload(&self, state: &WorldState) -> Result<()> {
        check_shape(&self.config, state)?;
        self.grids.types.write(&self.ctx, &state.types)?;
        self.grids.state.write(&self.ctx, &state.state)?;
        self.grids.ids.write(&self.ctx, &state.ids)?;
        Ok(())
    }

    /// Reads the grids back to the host.
    pub fn download(&self) -> Result<WorldState> {
        let mut rec = self.ctx.recorder("morphogen.biome.download");
        let types = rec.read(&self.grids.types)?;
        let state = rec.read(&self.grids.state)?;
        let ids = rec.read(&self.grids.ids)?;
        rec.submit()?;
        Ok(WorldState {
            height: self.height(),
            width: self.width(),
            channels: self.config.state_channels(),
            types: types.wait(&self.ctx)?,
            state: state.wait(&self.ctx)?,
            ids: ids.wait(&self.ctx)?,
        })
    }

    /// The program table as it is now (mutation changes it on the GPU).
    pub fn programs(&self) -> Result<ProgramTable> {
        self.agents.download(&self.ctx)
    }

    /// Replaces the program table (same model, slots and mutator layout). Slots holding
    /// non-finite values are disabled: their agents take no decisions and the census
    /// counts them.
    pub fn set_programs(&self, programs: &ProgramTable) -> Result<()> {
        let disabled = programs.usable().iter().filter(|&&ok| ok == 0).count();
        if disabled > 0 {
            log::warn!("{disabled} program slots hold non-finite values; their agents are skipped");
        }
        self.agents.upload(&self.ctx, programs)
    }

    /// Copies one program into every slot (as the reference does with a loaded program).
    pub fn fill_programs(&self, program: &[f32]) -> Result<()> {
        self.set_programs(&ProgramTable::filled(&self.config, program)?)
    }

    /// Loads a program from a `.npy` file into every slot; its length must be the
    /// configured model's (`agents.model`).
    pub fn load_program(&self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.load_program_npy(&bytes, &path.display().to_string())
    }

    /// Loads a program from the bytes of a `.npy` file (`source` names it in errors) into
    /// every slot.
    pub fn load_program_npy(&self, bytes: &[u8], source: &str) -> Result<()> {
        let (model, program) =
            program_from_npy(bytes, source, self.config.agent_state_size as usize)?;
        if model != self.config.agents.model {
            return Err(Error::invalid(format!(
                "{source} holds a {model:?} program but the world runs {:?} programs; set \
                 agents.model = \"{}\"",
                self.config.agents.model,
                format!("{model:?}").to_lowercase()
            )));
        }
        self.fill_programs(&program)
    }

    /// Agents the per-agent buffers hold: beyond this many agent cells, the rest take no
    /// decisions in a step (every cell, unless one GPU binding cannot hold them).
    pub fn agent_capacity(&self) -> usize {
        self.agents.capacity
    }

    /// The configuration.
    pub fn config(&self) -> &BiomeConfig {
        &self.config
    }

    /// The seed of the world's random draws.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.config.height as usize
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.config.columns() as usize
    }

    /// The context the world lives on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}

fn check_shape(config: &BiomeConfig, state: &WorldState) -> Result<()> {
    state.validate()?;
    let (h, w) = (config.height as usize, config.columns() as usize);
    if state.height != h || state.width != w || state.channels != config.state_channels() {
        return Err(Error::invalid(format!(
            "the world is {}x{} with {} channels but the config describes {h}x{w} with {}",
            state.height,
            state.width,
            state.channels,
            config.state_channels()
        )));
    }
    Ok(())
}
