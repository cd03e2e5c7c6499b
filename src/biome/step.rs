//! The step driver: every sub-step's kernel with its bindings, recorded for many steps
//! into one submission.

use std::sync::Arc;

use crate::biome::agents::AgentTables;
use crate::biome::metrics::{Census, Reproductions, CENSUS_COUNTERS};
use crate::biome::nets;
use crate::biome::params::StepParams;
use crate::biome::world::{Grids, Worlds};
use crate::error::Result;
use crate::gpu::StepProfile;
use crate::gpu::{GpuBuffer, GpuContext, Grid, Kernel, KernelDesc, Recorder};

const WG: u32 = 64;

/// Steps recorded into one submission at most (one parameter block each).
pub const MAX_STEPS_PER_SUBMIT: usize = 64;

/// The sub-steps of one step, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubStep {
    /// Soil self-balancing (only when `soil_unbalance_limit > 0`).
    SoilBalance,
    /// Five Jacobi passes of structural integrity.
    Integrity,
    /// Unsupported cells fall one row.
    Gravity,
    /// Flowers that ask to reproduce and can afford it: a few are picked, their programs
    /// mutated into free slots, seeds placed, the flowers removed.
    Reproduction,
    /// Agents share nutrients, change their internal state and specialization.
    Parallel,
    /// Diffusion, absorption, dissipation, aging leak and death.
    Energy,
    /// AIR fills VOID, EARTH slides, agents spawn: proposals, one accepted per target,
    /// applied.
    Exclusive,
    /// Agents grow one step older.
    Aging,
}

impl SubStep {
    /// Every sub-step of a step, in order.
    pub const ALL: [SubStep; 8] = [
        Self::SoilBalance,
        Self::Integrity,
        Self::Gravity,
        Self::Reproduction,
        Self::Parallel,
        Self::Energy,
        Self::Exclusive,
        Self::Aging,
    ];
}

/// How [`Worlds::run_with`] and [`World::run_with`] run.
///
/// [`World::run_with`]: crate::biome::World::run_with
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Steps per submission (and between calls of the callback), 1 to
    /// [`MAX_STEPS_PER_SUBMIT`].
    pub batch: usize,
    /// Count cells by type after every step (read back once per batch).
    pub census: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch: MAX_STEPS_PER_SUBMIT,
            census: false,
        }
    }
}

impl RunOptions {
    /// Sets the steps per submission.
    pub fn batch(mut self, steps: usize) -> Self {
        self.batch = steps;
        self
    }

    /// Turns the per-step census on or off.
    pub fn census(mut self, on: bool) -> Self {
        self.census = on;
        self
    }
}

struct Pass {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
}

/// Pipelines and bind groups of every sub-step of a batch of worlds.
pub(crate) struct StepKernels {
    params: GpuBuffer<StepParams>,
    census_counts: GpuBuffer<u32>,
    soil: Pass,
    integrity: [Pass; 5],
    gravity: Pass,
    /// The last integrity pass also listing the agents, and gravity following them and
    /// writing the list's dispatch arguments (whole steps).
    integrity_enlist: Pass,
    gravity_moves: Pass,
    agent_list: Pass,
    agent_args: Pass,
    flowers: Pass,
    reproduce: Pass,
    parallel: Pass,
    parallel_apply: Pass,
    diffuse: Pass,
    energy: Pass,
    propose: Pass,
    /// `propose` also writing the agent kernels' dispatch arguments (whole steps).
    propose_args: Pass,
    spawn: Pass,
    choose: Pass,
    apply: Pass,
    /// `apply` with the aging sub-step fused in (whole steps).
    apply_aging: Pass,
    age: Pass,
    census: Pass,
    census_ids: Pass,
}

fn params_binding(params: &GpuBuffer<StepParams>) -> wgpu::BindingResource<'_> {
    params.binding_range(0, 1)
}

impl StepKernels {
    pub fn new(
        ctx: &GpuContext,
        g: &Grids,
        a: &AgentTables,
        seeds: &GpuBuffer<[u32; 2]>,
        worlds: usize,
    ) -> Result<Self> {
        let params = GpuBuffer::uniform_slice(
            ctx,
            &[bytemuck::Zeroable::zeroed(); MAX_STEPS_PER_SUBMIT],
            "morphogen.biome.params",
        )?;
        let census_counts = GpuBuffer::zeroed(
            ctx,
            MAX_STEPS_PER_SUBMIT * worlds * CENSUS_COUNTERS,
            "morphogen.biome.census",
        )?;
        let p = params_binding(&params);
        // The grids bound in windows, and the accessors the kernels import for them.
        let b = &g.banks;
        let windows: Vec<(String, wgpu::BindingResource<'_>)> = [
            b.state.bindings(&g.state),
            b.prev_state.bindings(&g.prev_state),
            b.offer.bindings(&g.offer),
            b.candidates.bindings(&a.candidates),
        ]
        .concat();
        let windows: Vec<(&str, wgpu::BindingResource<'_>)> = windows
            .iter()
            .map(|(n, r)| (n.as_str(), r.clone()))
            .collect();
        let mut sources = b.sources();
        sources.push((
            nets::IMPORT.to_string(),
            nets::nets_source(a.layout.agent_state_size),
        ));
        let generated: Vec<(&str, &str)> = sources
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_str()))
            .collect();
        // Every kernel's bindings by the names of their WGSL variables, from one table:
        // the names mean the same buffer in every biome kernel.
        let [ia, ib] = &g.integrity;
        let table: Vec<(&str, wgpu::BindingResource<'_>)> = vec![
            ("params", p.clone()),
            ("types", g.types.binding()),
            ("ids", g.ids.binding()),
            ("proposal", g.proposal.binding()),
            ("choice", g.choice.binding()),
            ("prev_types", g.prev_types.binding()),
            ("prev_ids", g.prev_ids.binding()),
            ("agent", a.layout_block.binding()),
            ("programs", a.programs.binding()),
            ("slot_ok", a.slot_ok.binding()),
            ("list", a.list.binding()),
            ("list_pos", a.list_pos.binding()),
            ("control", a.control.binding()),
            ("table", a.sizes.binding()),
            ("args", a.args.binding()),
            ("id_counts", a.id_counts.binding()),
            ("candidates", a.candidates.binding()),
            ("share", a.share.binding()),
            ("spawn", a.spawn.binding()),
            ("id_cells", a.id_cells.binding()),
            ("seeds", seeds.binding()),
            ("census", census_counts.binding()),
            ("counts", census_counts.binding()),
        ];
        let build_with = |shader: &str,
                          defines: &[&str],
                          overrides: &[(&str, f64)],
                          extra: &[(&str, wgpu::BindingResource<'_>)]|
         -> Result<Pass> {
            // `params`, where a kernel has it, is the step's block at its dynamic offset.
            let kernel = ctx.kernel(
                &KernelDesc::new(shader)
                    .dynamic(&["params"])
                    .defines(defines)
                    .generated(&generated)
                    .overrides(overrides),
            )?;
            let group = kernel.bind_from(ctx, &[extra, &windows, &table])?;
            Ok(Pass { kernel, group })
        };
        let build = |shader: &str,
                     defines: &[&str],
                     wg: u32,
                     extra: &[(&str, wgpu::BindingResource<'_>)]| {
            build_with(shader, defines, &[("WG", f64::from(wg))], extra)
        };
        let pass = |shader: &str| build(shader, &[], WG, &[]);
        // The first pass reads the state's integrity channel, the last writes it (both
        // through the state's accessors); the passes between ping-pong.
        // Kernels over column strips of BAND rows (`Worlds::strips`).
        let walker =
            |shader: &str, defines: &[&str], extra: &[(&str, wgpu::BindingResource<'_>)]| {
                build_with(
                    shader,
                    defines,
                    &[("WG", f64::from(WG)), ("BAND", f64::from(BAND))],
                    extra,
                )
            };
        let integrity_pass = |define: &[&str], src: &GpuBuffer<f32>, dst: &GpuBuffer<f32>| {
            walker(
                "biome/integrity",
                define,
                &[("src", src.binding()), ("dst", dst.binding())],
            )
        };
        Ok(Self {
            soil: pass("biome/soil")?,
            integrity: [
                integrity_pass(&["SRC_STATE"], ib, ia)?,
                integrity_pass(&[], ia, ib)?,
                integrity_pass(&[], ib, ia)?,
                integrity_pass(&[], ia, ib)?,
                integrity_pass(&["DST_STATE"], ib, ia)?,
            ],
            gravity: pass("biome/gravity")?,
            integrity_enlist: integrity_pass(&["DST_STATE", "ENLIST"], ib, ia)?,
            gravity_moves: build_with(
                "biome/gravity",
                &["LIST_MOVES"],
                &[("WG", f64::from(WG)), ("AGENT_WG", f64::from(WG))],
                &[],
            )?,
            agent_list: pass("biome/agent_list")?,
            agent_args: pass("biome/agent_args")?,
            flowers: pass("biome/flowers")?,
            reproduce: build("biome/reproduce", &[], REPRODUCE_WG, &[])?,
            parallel: pass("biome/parallel")?,
            parallel_apply: pass("biome/parallel_apply")?,
            diffuse: walker("biome/diffuse", &[], &[])?,
            energy: pass("biome/energy")?,
            propose: walker("biome/propose", &[], &[])?,
            propose_args: build_with(
                "biome/propose",
                &["AGENT_ARGS"],
                &[
                    ("WG", f64::from(WG)),
                    ("BAND", f64::from(BAND)),
                    ("AGENT_WG", f64::from(WG)),
                ],
                &[],
            )?,
            spawn: pass("biome/spawn")?,
            choose: walker("biome/choose", &[], &[])?,
            apply: pass("biome/apply")?,
            apply_aging: build("biome/apply", &["AGING"], WG, &[])?,
            age: pass("biome/age")?,
            census: pass("biome/census")?,
            census_ids: build("biome/census_ids", &[], REPRODUCE_WG, &[])?,
            params,
            census_counts,
        })
    }
}

/// Rows of one column an invocation walks in the kernels that walk down columns.
const BAND: u32 = 8;

/// Workgroup size of the kernels with one workgroup per world (reproduction, the id count).
const REPRODUCE_WG: u32 = 64;

impl Worlds {
    fn grid_over(&self, items: usize) -> Grid {
        Grid::linear(
            items as u64,
            WG,
            self.ctx.limits().max_compute_workgroups_per_dimension,
        )
    }

    fn offset(block: usize) -> u32 {
        (block * std::mem::size_of::<StepParams>()) as u32
    }

    fn dispatch(&self, rec: &mut Recorder<'_>, pass: &Pass, block: usize, items: usize) {
        rec.dispatch_at(
            &pass.kernel,
            &pass.group,
            &[Self::offset(block)],
            self.grid_over(items),
        );
    }

    fn dispatch_once(&self, rec: &mut Recorder<'_>, pass: &Pass) {
        rec.dispatch_at(&pass.kernel, &pass.group, &[], Grid::new(1, 1, 1));
    }

    /// Records a dispatch of one workgroup per world.
    fn dispatch_per_world(&self, rec: &mut Recorder<'_>, pass: &Pass, block: usize) {
        let worlds = self.count() as u32;
        rec.dispatch_at(
            &pass.kernel,
            &pass.group,
            &[Self::offset(block)],
            Grid::new(worlds, 1, 1),
        );
    }

    /// Records a dispatch over the listed agents (arguments written by `agent_args`).
    fn dispatch_agents(&self, rec: &mut Recorder<'_>, pass: &Pass, block: usize) {
        rec.dispatch_indirect(
            &pass.kernel,
            &pass.group,
            &[Self::offset(block)],
            &self.agents.args,
            0,
        );
    }

    /// Records rebuilding the list of agent cells and its dispatch arguments.
    fn record_agent_list(&self, rec: &mut Recorder<'_>, block: usize) {
        rec.clear(&self.agents.control);
        self.dispatch(rec, &self.kernels.agent_list, block, self.cells());
        self.dispatch_once(rec, &self.kernels.agent_args);
    }

    /// Column strips of [`BAND`] rows in the whole batch (one invocation each of the
    /// kernels that walk down a column: integrity and diffusion).
    fn strips(&self) -> usize {
        self.height().div_ceil(BAND as usize) * self.width() * self.count()
    }

    /// Cells of the whole batch.
    fn cells(&self) -> usize {
        self.world_cells() * self.count()
    }

    /// Records one sub-step with the parameter block `block`. In a whole step
    /// (`in_step`) the exclusive ops take the agent list energy left (the survivors)
    /// where, run alone, they list the agents themselves; and their last kernel also runs
    /// the aging sub-step, which then records nothing. (Reproduction does not add
    /// its seeds to the list for the parallel op: that kernel would need more storage
    /// bindings than browsers allow.)
    fn record_substep(&self, rec: &mut Recorder<'_>, sub: SubStep, block: usize, in_step: bool) {
        let k = &self.kernels;
        let g = &self.grids;
        let cells = self.cells();
        let columns = self.width() * self.count();
        match sub {
            SubStep::SoilBalance => {
                if self.config.soil_unbalance_limit > 0.0 {
                    self.dispatch(rec, &k.soil, block, columns);
                }
            }
            SubStep::Integrity => {
                let [passes @ .., last] = &k.integrity;
                for pass in passes {
                    self.dispatch(rec, pass, block, self.strips());
                }
                // In a whole step the last pass lists the agents for reproduction and
                // gravity keeps the list (one dispatch fewer each than listing after).
                if in_step {
                    rec.clear(&self.agents.control);
                    self.dispatch(rec, &k.integrity_enlist, block, self.strips());
                } else {
                    self.dispatch(rec, last, block, self.strips());
                }
            }
            SubStep::Gravity => {
                let gravity = if in_step {
                    &k.gravity_moves
                } else {
                    &k.gravity
                };
                self.dispatch(rec, gravity, block, columns);
            }
            SubStep::Reproduction => {
                if !in_step {
                    self.record_agent_list(rec, block);
                }
                rec.clear(&self.agents.id_counts);
                self.dispatch_agents(rec, &k.flowers, block);
                self.dispatch_per_world(rec, &k.reproduce, block);
            }
            SubStep::Parallel => {
                self.record_agent_list(rec, block);
                self.dispatch_agents(rec, &k.parallel, block);
                self.dispatch(rec, &k.parallel_apply, block, cells);
            }
            SubStep::Energy => {
                rec.clear(&self.agents.control);
                self.dispatch(rec, &k.diffuse, block, self.strips());
                self.dispatch(rec, &k.energy, block, cells);
            }
            SubStep::Exclusive => {
                rec.copy(&g.types, &g.prev_types);
                rec.copy(&g.state, &g.prev_state);
                rec.copy(&g.ids, &g.prev_ids);
                // In a whole step the proposals' kernel writes the dispatch arguments
                // for the list energy left.
                let propose = if in_step {
                    &k.propose_args
                } else {
                    self.record_agent_list(rec, block);
                    &k.propose
                };
                self.dispatch(rec, propose, block, self.strips());
                self.dispatch_agents(rec, &k.spawn, block);
                self.dispatch(rec, &k.choose, block, self.strips());
                // In whole steps the aging sub-step, which comes next, runs in the same
                // kernel: one dispatch fewer.
                let apply = if in_step { &k.apply_aging } else { &k.apply };
                self.dispatch(rec, apply, block, cells);
            }
            SubStep::Aging => {
                if !in_step {
                    self.dispatch(rec, &k.age, block, cells);
                }
            }
        }
    }

    fn write_params(&self, first_step: u64, steps: usize) -> Result<()> {
        let blocks: Vec<StepParams> = (0..steps)
            .map(|i| {
                let mut p = StepParams::new(&self.config, self.count(), first_step + i as u64);
                p.record_slot = i as u32;
                p
            })
            .collect();
        self.kernels.params.write(&self.ctx, &blocks)
    }

    /// Runs one sub-step of the current step on its own, without advancing the step
    /// count (for tests and inspection: a whole step is [`Worlds::run`]). The
    /// reproduction sub-step reports what it did in each world.
    pub fn run_substep(&mut self, sub: SubStep) -> Result<Option<Vec<Reproductions>>> {
        self.write_params(self.step, 1)?;
        let mut rec = self.ctx.recorder("morphogen.biome.substep");
        if sub == SubStep::Reproduction {
            rec.clear(&self.kernels.census_counts);
        }
        self.record_substep(&mut rec, sub, 0, false);
        let counts = if sub == SubStep::Reproduction {
            Some(rec.read(&self.kernels.census_counts)?)
        } else {
            None
        };
        rec.submit()?.wait(&self.ctx)?;
        let Some(counts) = counts else {
            return Ok(None);
        };
        let raw = counts.wait(&self.ctx)?;
        let per_world = raw
            .chunks_exact(CENSUS_COUNTERS)
            .take(self.count())
            .map(|row| {
                let row = Census::from_row(self.step, row);
                Reproductions {
                    executed: row.reproductions,
                    placed: row.seeds,
                    intercepted: row.intercepted,
                }
            })
            .collect();
        Ok(Some(per_world))
    }

    /// Runs `steps` whole steps, many per submission, with no readback.
    pub fn run(&mut self, steps: u64) -> Result<()> {
        self.run_with(steps, &RunOptions::default(), |_, _| Ok(()))
    }

    /// Runs `steps` steps in batches of `options.batch`; after each batch, calls
    /// `on_batch` with the steps done so far and (with `options.census`) each world's
    /// census after each step of the batch, `census[world][step]`. An error from the
    /// callback stops the run.
    pub fn run_with(
        &mut self,
        steps: u64,
        options: &RunOptions,
        on_batch: impl FnMut(u64, &[Vec<Census>]) -> Result<()>,
    ) -> Result<()> {
        pollster::block_on(self.run_with_async(steps, options, on_batch))
    }

    /// [`Worlds::run_with`] without blocking the thread (the browser's form).
    pub async fn run_with_async(
        &mut self,
        steps: u64,
        options: &RunOptions,
        mut on_batch: impl FnMut(u64, &[Vec<Census>]) -> Result<()>,
    ) -> Result<()> {
        let batch = options.batch.clamp(1, MAX_STEPS_PER_SUBMIT);
        let mut left = steps;
        while left > 0 {
            let n = (left as usize).min(batch);
            let (submitted, counts) = self.submit_batch(n, options.census)?;
            let census = match counts {
                Some(pending) => self.census_rows(n, &pending.wait_async(&self.ctx).await?),
                None => {
                    submitted.wait_async(&self.ctx).await?;
                    vec![Vec::new(); self.count()]
                }
            };
            self.step += n as u64;
            left -= n as u64;
            on_batch(self.step, &census)?;
        }
        Ok(())
    }

    /// Records and submits `n` steps (with their census when asked).
    fn submit_batch(
        &mut self,
        n: usize,
        census: bool,
    ) -> Result<(crate::gpu::Submitted, Option<crate::gpu::Pending<u32>>)> {
        let cells = self.cells();
        self.write_params(self.step, n)?;
        let mut rec = self.ctx.recorder("morphogen.biome.steps");
        rec.clear(&self.kernels.census_counts);
        for block in 0..n {
            for sub in SubStep::ALL {
                self.record_substep(&mut rec, sub, block, true);
            }
            if census {
                self.dispatch(&mut rec, &self.kernels.census, block, cells);
                self.dispatch_per_world(&mut rec, &self.kernels.census_ids, block);
            }
        }
        let counts = if census {
            Some(rec.read(&self.kernels.census_counts)?)
        } else {
            None
        };
        Ok((rec.submit()?, counts))
    }

    /// Runs `steps` whole steps (at most [`MAX_STEPS_PER_SUBMIT`]) in one submission with
    /// every compute pass timed: how many dispatches a step takes, and how the GPU's time
    /// divides between the kernels and the gaps between them (dispatch overhead). Needs
    /// timestamp queries for the times.
    pub fn profile_steps(&mut self, steps: usize) -> Result<StepProfile> {
        let n = steps.clamp(1, MAX_STEPS_PER_SUBMIT);
        self.write_params(self.step, n)?;
        let ctx = self.ctx.clone();
        let mut rec = ctx.profiled_recorder("morphogen.biome.profile", (n * 64) as u32)?;
        for block in 0..n {
            for sub in SubStep::ALL {
                self.record_substep(&mut rec, sub, block, true);
            }
        }
        let dispatches = rec.dispatch_count();
        let (timing, passes) = rec.submit()?.wait_passes(&self.ctx)?;
        self.step += n as u64;
        Ok(StepProfile::of(n, dispatches, &timing, passes))
    }

    /// Each world's census rows of the `n` steps after the current one.
    fn census_rows(&self, n: usize, raw: &[u32]) -> Vec<Vec<Census>> {
        let worlds = self.count();
        (0..worlds)
            .map(|w| {
                (0..n)
                    .map(|i| {
                        let at = (i * worlds + w) * CENSUS_COUNTERS;
                        Census::from_row(self.step + i as u64 + 1, &raw[at..at + CENSUS_COUNTERS])
                    })
                    .collect()
            })
            .collect()
    }
}

/// The bytes one step's kernels must move per cell at the least, each value read or
/// written once (neighbour reads served by caches): five integrity passes, gravity's
/// scan, the two energy kernels, the exclusive ops with their copy of the grid, aging.
/// Benchmarks divide the traffic this implies by the adapter's measured bandwidth.
pub fn bytes_per_cell_step(channels: usize) -> u64 {
    let c = channels as u64;
    let integrity = 5 * 12;
    let gravity = 8;
    let diffuse = 4 + 8 + 16;
    let energy = 16 + 4 + 12 + 8;
    let exclusive = 2 * (c + 2) * 4 + 8 + 8 + 12;
    let aging = 12;
    integrity + gravity + diffuse + energy + exclusive + aging
}
