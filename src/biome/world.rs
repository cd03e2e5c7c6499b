//! A batch of worlds resident on the GPU: their grids, the scratch the sub-steps share,
//! and moving worlds between host and device.

use crate::biome::agents::AgentTables;
use crate::biome::banks::Banks;
use crate::biome::config::BiomeConfig;
use std::path::Path;

use crate::biome::program::{program_from_npy, ProgramLayout, ProgramTable};
use crate::biome::state::WorldState;
use crate::biome::step::StepKernels;
use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext};

/// The buffers of a batch of worlds, one world's cells after another's.
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
    /// How the grids wider than 4 bytes a cell are bound (in windows beyond one binding).
    pub banks: Banks,
}

impl Grids {
    fn new(ctx: &GpuContext, cells: usize, channels: usize) -> Result<Self> {
        let banks = Banks::plan(ctx, cells, channels)?;
        let label = |name: &str| format!("morphogen.biome.{name}");
        Ok(Self {
            banks,
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

/// A batch of Biomaker CA worlds of one configuration on the GPU, advancing together: one
/// dispatch chain per step serves every world, each with its own seed, programs and
/// census. A world in a batch runs exactly as it runs alone ([`crate::biome::World`] is a batch of
/// one), so a seed sweep is one batch.
///
/// ```no_run
/// use morphogen::biome::{BiomeConfig, Preset, RunOptions, Worlds};
/// use morphogen::gpu::GpuContext;
///
/// let ctx = GpuContext::new()?;
/// let config = BiomeConfig::preset(Preset::Persistence).height(72);
/// let mut worlds = Worlds::new(&ctx, &config, &[1, 2, 3, 4])?;
/// worlds.run_with(500, &RunOptions::default().census(true), |step, census| {
///     for (seed, rows) in [1, 2, 3, 4].iter().zip(census) {
///         if let Some(last) = rows.last() {
///             println!("seed {seed}, step {step}: {} agent cells", last.agents());
///         }
///     }
///     Ok(())
/// })?;
/// worlds.render(2, 4)?.save("seed_3.png".as_ref())?;
/// # Ok::<(), morphogen::Error>(())
/// ```
pub struct Worlds {
    pub(crate) ctx: GpuContext,
    pub(crate) config: BiomeConfig,
    pub(crate) seeds: Vec<u64>,
    pub(crate) step: u64,
    pub(crate) grids: Grids,
    pub(crate) agents: AgentTables,
    pub(crate) seed_keys: GpuBuffer<[u32; 2]>,
    pub(crate) kernels: StepKernels,
}

/// One world of a batch: its grids, programs and seed.
#[derive(Clone, Debug)]
pub struct WorldParts {
    /// The grids.
    pub state: WorldState,
    /// The program table.
    pub programs: ProgramTable,
    /// The seed of the world's random draws.
    pub seed: u64,
}

impl Worlds {
    /// One initial world of `config` (its layout and seed placement) per seed, each with
    /// programs freshly initialised under its seed and random draws keyed by it.
    pub fn new(ctx: &GpuContext, config: &BiomeConfig, seeds: &[u64]) -> Result<Self> {
        let state = WorldState::initial(config)?;
        let parts: Vec<WorldParts> = seeds
            .iter()
            .map(|&seed| WorldParts {
                state: state.clone(),
                programs: ProgramTable::initial(config, seed),
                seed,
            })
            .collect();
        Self::from_parts(ctx, config, &parts, 0)
    }

    /// A batch holding `parts`, as if `step` steps had run.
    pub fn from_parts(
        ctx: &GpuContext,
        config: &BiomeConfig,
        parts: &[WorldParts],
        step: u64,
    ) -> Result<Self> {
        config.validate()?;
        if parts.is_empty() {
            return Err(Error::invalid("a batch needs at least one world"));
        }
        for p in parts {
            check_shape(config, &p.state)?;
        }
        let world_cells = parts[0].state.cells();
        check_cells(
            ctx,
            (world_cells * parts.len()) as u64,
            parts[0].state.channels,
        )
        .map_err(|e| match e {
            Error::LimitExceeded {
                requested,
                limit,
                limit_name,
                hint,
                ..
            } => Error::LimitExceeded {
                what: format!(
                    "{} world(s) of {}x{} ({} state channels)",
                    parts.len(),
                    parts[0].state.height,
                    parts[0].state.width,
                    parts[0].state.channels
                ),
                requested,
                limit,
                limit_name,
                hint,
            },
            other => other,
        })?;
        let fits = Self::max_batch(ctx, config);
        if parts.len() > 1 && parts.len() > fits {
            let (h, w) = (config.height, config.columns());
            return Err(Error::invalid(format!(
                "{} worlds of {h}x{w} do not fit one batch on this adapter; at most {fits} \
                 do (split the batch)",
                parts.len()
            )));
        }
        let channels = parts[0].state.channels;
        let cells = world_cells * parts.len();
        let grids = Grids::new(ctx, cells, channels)?;
        let tables: Vec<ProgramTable> = parts.iter().map(|p| p.programs.clone()).collect();
        let agents = AgentTables::new(ctx, config, world_cells, &tables)?;
        let keys: Vec<[u32; 2]> = parts.iter().map(|p| crate::rng::seed_key(p.seed)).collect();
        let seed_keys = GpuBuffer::from_slice(ctx, &keys, "morphogen.biome.seeds")?;
        let kernels = StepKernels::new(ctx, &grids, &agents, &seed_keys, parts.len())?;
        let worlds = Self {
            ctx: ctx.clone(),
            config: config.clone(),
            seeds: parts.iter().map(|p| p.seed).collect(),
            step,
            grids,
            agents,
            seed_keys,
            kernels,
        };
        for (w, p) in parts.iter().enumerate() {
            worlds.upload(w, &p.state)?;
        }
        Ok(worlds)
    }

    /// Starts the batch over with `parts` (as many worlds as it holds), as if `step` steps
    /// had run: new grids, programs and seeds, the same pipelines (an evolution reuses one
    /// batch for every generation's dishes).
    pub fn reset(&mut self, parts: &[WorldParts], step: u64) -> Result<()> {
        if parts.len() != self.count() {
            return Err(Error::invalid(format!(
                "a batch of {} worlds cannot be reset to {}",
                self.count(),
                parts.len()
            )));
        }
        for (w, p) in parts.iter().enumerate() {
            self.upload(w, &p.state)?;
            self.set_programs(w, &p.programs)?;
        }
        let keys: Vec<[u32; 2]> = parts.iter().map(|p| crate::rng::seed_key(p.seed)).collect();
        self.seed_keys.write(&self.ctx, &keys)?;
        self.seeds = parts.iter().map(|p| p.seed).collect();
        self.step = step;
        Ok(())
    }

    /// The most worlds of `config` one batch can hold on this adapter: the batch's grids
    /// fit (see [`Worlds::max_cells`]), its programs live in one storage binding, every
    /// listed agent has room in the per-agent scratch, and the per-world workgroups fit one
    /// dispatch. A single world larger than this still runs alone (its agents beyond the
    /// scratch's room are skipped and counted).
    pub fn max_batch(ctx: &GpuContext, config: &BiomeConfig) -> usize {
        let limit = ctx.max_binding_bytes();
        let cells = u64::from(config.height) * u64::from(config.columns());
        let channels = config.state_channels();
        let scratch = cells * (crate::biome::agents::SHARE_STRIDE as u64) * 4;
        let layout = ProgramLayout::new(config.agents.model, config.agent_state_size as usize);
        let programs = u64::from(config.agents.slots) * config.agents.stride(&layout) as u64 * 4;
        let by = |bytes: u64| limit.checked_div(bytes).unwrap_or(u64::MAX);
        let groups = u64::from(ctx.limits().max_compute_workgroups_per_dimension);
        let bound = by(scratch)
            .min(by(programs))
            .min(groups)
            .min(usize::MAX as u64);
        largest(bound, |w| check_cells(ctx, cells * w, channels).is_ok()) as usize
    }

    /// The most cells a world of `config`'s agent state can have on this adapter. The
    /// 4-byte grids (types, ids and the scratch of the sub-steps) each live in one storage
    /// binding; the wider ones (the state, 4 + `agent_state_size` f32 channels per cell,
    /// and the energy offers, 16 bytes) in one buffer each, bound in windows.
    pub fn max_cells(ctx: &GpuContext, config: &BiomeConfig) -> u64 {
        let channels = config.state_channels();
        largest(ctx.max_binding_bytes() / 4, |cells| {
            check_cells(ctx, cells, channels).is_ok()
        })
    }

    /// Windows the batch's state is bound in: 1 while it fits one storage binding.
    pub fn state_windows(&self) -> usize {
        self.grids.banks.state.windows()
    }

    fn check_world(&self, world: usize) -> Result<()> {
        if world >= self.count() {
            return Err(Error::invalid(format!(
                "world {world} is not in a batch of {}",
                self.count()
            )));
        }
        Ok(())
    }

    /// Replaces world `world`'s grids with `state` (the configuration's shape).
    pub fn upload(&self, world: usize, state: &WorldState) -> Result<()> {
        self.check_world(world)?;
        check_shape(&self.config, state)?;
        let cells = self.world_cells();
        let channels = self.config.state_channels();
        self.grids
            .types
            .write_at(&self.ctx, world * cells, &state.types)?;
        self.grids
            .state
            .write_at(&self.ctx, world * cells * channels, &state.state)?;
        self.grids
            .ids
            .write_at(&self.ctx, world * cells, &state.ids)?;
        Ok(())
    }

    /// Reads world `world`'s grids back to the host.
    pub fn download(&self, world: usize) -> Result<WorldState> {
        self.check_world(world)?;
        let cells = self.world_cells();
        let channels = self.config.state_channels();
        let mut rec = self.ctx.recorder("morphogen.biome.download");
        let types = rec.read_range(&self.grids.types, world * cells, cells)?;
        let state = rec.read_range(
            &self.grids.state,
            world * cells * channels,
            cells * channels,
        )?;
        let ids = rec.read_range(&self.grids.ids, world * cells, cells)?;
        rec.submit()?;
        Ok(WorldState {
            height: self.height(),
            width: self.width(),
            channels,
            types: types.wait(&self.ctx)?,
            state: state.wait(&self.ctx)?,
            ids: ids.wait(&self.ctx)?,
        })
    }

    /// World `world`'s program table as it is now (mutation changes it on the GPU).
    pub fn programs(&self, world: usize) -> Result<ProgramTable> {
        self.check_world(world)?;
        self.agents.download(&self.ctx, world)
    }

    /// Replaces world `world`'s program table (same model, slots and mutator layout).
    /// Slots holding non-finite values are disabled: their agents take no decisions and
    /// the census counts them.
    pub fn set_programs(&self, world: usize, programs: &ProgramTable) -> Result<()> {
        self.check_world(world)?;
        let disabled = programs.usable().iter().filter(|&&ok| ok == 0).count();
        if disabled > 0 {
            log::warn!("{disabled} program slots hold non-finite values; their agents are skipped");
        }
        self.agents.upload(&self.ctx, world, programs)
    }

    /// Copies one program into every slot of world `world` (as the reference does with a
    /// loaded program).
    pub fn fill_programs(&self, world: usize, program: &[f32]) -> Result<()> {
        self.set_programs(world, &ProgramTable::filled(&self.config, program)?)
    }

    /// Copies one program into every slot of every world.
    pub fn fill_all_programs(&self, program: &[f32]) -> Result<()> {
        let table = ProgramTable::filled(&self.config, program)?;
        (0..self.count()).try_for_each(|w| self.set_programs(w, &table))
    }

    /// Loads a program from a `.npy` file into every slot of every world; its length must
    /// be the configured model's (`agents.model`).
    pub fn load_program(&self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.load_program_npy(&bytes, &path.display().to_string())
    }

    /// Loads a program from the bytes of a `.npy` file (`source` names it in errors) into
    /// every slot of every world.
    pub fn load_program_npy(&self, bytes: &[u8], source: &str) -> Result<()> {
        let config = &self.config;
        let (model, program) = program_from_npy(bytes, source, config.agent_state_size as usize)?;
        if model != config.agents.model {
            return Err(Error::invalid(format!(
                "{source} holds a {model:?} program but the world runs {:?} programs; set \
                 agents.model = \"{}\"",
                config.agents.model,
                format!("{model:?}").to_lowercase()
            )));
        }
        self.fill_all_programs(&program)
    }

    /// Agents the per-agent buffers hold, over the whole batch: beyond this many agent
    /// cells, the rest take no decisions in a step (every cell, unless one GPU binding
    /// cannot hold them).
    pub fn agent_capacity(&self) -> usize {
        self.agents.capacity
    }

    /// The configuration.
    pub fn config(&self) -> &BiomeConfig {
        &self.config
    }

    /// Worlds in the batch.
    pub fn count(&self) -> usize {
        self.seeds.len()
    }

    /// The seed of each world's random draws.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    /// Steps run so far (the same in every world).
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Rows of each world.
    pub fn height(&self) -> usize {
        self.config.height as usize
    }

    /// Columns of each world.
    pub fn width(&self) -> usize {
        self.config.columns() as usize
    }

    /// Cells of each world.
    pub fn world_cells(&self) -> usize {
        self.height() * self.width()
    }

    /// The context the batch lives on.
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

/// Checks that the grids of `cells` cells with `channels` state channels fit this adapter.
fn check_cells(ctx: &GpuContext, cells: u64, channels: usize) -> Result<()> {
    let binding = ctx.max_binding_bytes();
    if cells * 4 > binding {
        return Err(Error::LimitExceeded {
            what: format!("the 4-byte grids of {cells} cells"),
            requested: cells * 4,
            limit: binding,
            limit_name: "max_storage_buffer_binding_size",
            hint: "the type, id and scratch grids each live in one storage binding; use a \
                   smaller world or fewer worlds per batch",
        });
    }
    let buffer = ctx.limits().max_buffer_size;
    let widest = cells * (channels as u64 * 4).max(16);
    if widest > buffer {
        return Err(Error::LimitExceeded {
            what: format!("the state and offer grids of {cells} cells"),
            requested: widest,
            limit: buffer,
            limit_name: "max_buffer_size",
            hint: "each of them lives in one buffer; use a smaller world or fewer worlds \
                   per batch",
        });
    }
    Banks::plan(ctx, cells as usize, channels).map(|_| ())
}

/// The largest n in 0..=bound with `fits(n)`, for a `fits` true up to some n and false
/// beyond.
fn largest(bound: u64, fits: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0u64, bound);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}
