//! The step driver: every sub-step's kernel with its bindings, recorded for many steps
//! into one submission.

use std::sync::Arc;

use crate::biome::params::StepParams;
use crate::biome::state::kind;
use crate::biome::world::{Grids, World};
use crate::error::Result;
use crate::gpu::{Binding, GpuBuffer, GpuContext, Grid, Kernel, KernelDesc, Recorder};

const WG: u32 = 64;

/// Steps recorded into one submission at most (one parameter block each).
pub const MAX_STEPS_PER_SUBMIT: usize = 64;

/// Counters per census row (the first [`kind::COUNT`] count cells by type).
const CENSUS_COUNTERS: usize = 16;

/// The sub-steps of one step, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubStep {
    /// Soil self-balancing (only when `soil_unbalance_limit > 0`).
    SoilBalance,
    /// Five Jacobi passes of structural integrity.
    Integrity,
    /// Unsupported cells fall one row.
    Gravity,
    /// Diffusion, absorption, dissipation, aging leak and death.
    Energy,
    /// AIR fills VOID, EARTH slides: proposals, one accepted per target, applied.
    Exclusive,
    /// Agents grow one step older.
    Aging,
}

impl SubStep {
    /// Every sub-step of a step, in order.
    pub const ALL: [SubStep; 6] = [
        Self::SoilBalance,
        Self::Integrity,
        Self::Gravity,
        Self::Energy,
        Self::Exclusive,
        Self::Aging,
    ];
}

/// Number of cells of each type after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Census {
    /// The step this census follows (1 after the first step).
    pub step: u64,
    /// Cells per type id.
    pub counts: [u32; kind::COUNT],
}

impl Census {
    /// Agent cells of all specializations.
    pub fn agents(&self) -> u64 {
        self.by_specialization().iter().map(|&n| u64::from(n)).sum()
    }

    /// Agent cells per specialization: unspecialized, root, leaf, flower.
    pub fn by_specialization(&self) -> [u32; 4] {
        let c = &self.counts;
        [
            c[kind::UNSPECIALIZED as usize],
            c[kind::ROOT as usize],
            c[kind::LEAF as usize],
            c[kind::FLOWER as usize],
        ]
    }
}

/// How [`World::run_with`] runs.
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

/// Pipelines and bind groups of every sub-step of one world.
pub(crate) struct StepKernels {
    params: GpuBuffer<StepParams>,
    census_counts: GpuBuffer<u32>,
    soil: Pass,
    integrity: [Pass; 5],
    gravity: Pass,
    diffuse: Pass,
    energy: Pass,
    propose: Pass,
    choose: Pass,
    apply: Pass,
    age: Pass,
    census: Pass,
}

fn params_binding(params: &GpuBuffer<StepParams>) -> wgpu::BindingResource<'_> {
    params.binding_range(0, 1)
}

impl StepKernels {
    pub fn new(ctx: &GpuContext, g: &Grids) -> Result<Self> {
        use Binding::{Storage as Rw, StorageRead as Ro, UniformDynamic as P};
        let params = GpuBuffer::uniform_slice(
            ctx,
            &[bytemuck::Zeroable::zeroed(); MAX_STEPS_PER_SUBMIT],
            "morphogen.biome.params",
        )?;
        let census_counts = GpuBuffer::zeroed(
            ctx,
            MAX_STEPS_PER_SUBMIT * CENSUS_COUNTERS,
            "morphogen.biome.census",
        )?;
        let p = params_binding(&params);
        let pass = |shader: &str,
                    defines: &[&str],
                    bindings: &[Binding],
                    resources: &[wgpu::BindingResource<'_>]|
         -> Result<Pass> {
            let kernel = ctx.kernel(
                &KernelDesc::new(shader, bindings)
                    .defines(defines)
                    .overrides(&[("WG", f64::from(WG))]),
            )?;
            let mut all = vec![p.clone()];
            all.extend_from_slice(resources);
            let group = kernel.bind(ctx, &all)?;
            Ok(Pass { kernel, group })
        };
        let grid3 = [g.types.binding(), g.state.binding(), g.ids.binding()];
        let [ia, ib] = &g.integrity;
        let integrity_pass = |define: &[&str], src: wgpu::BindingResource<'_>, dst| {
            pass(
                "biome/integrity",
                define,
                &[P, Ro, Ro, Rw],
                &[g.types.binding(), src, dst],
            )
        };
        Ok(Self {
            soil: pass("biome/soil", &[], &[P, Rw, Rw, Rw], &grid3)?,
            integrity: [
                integrity_pass(&["SRC_STATE"], g.state.binding(), ia.binding())?,
                integrity_pass(&[], ia.binding(), ib.binding())?,
                integrity_pass(&[], ib.binding(), ia.binding())?,
                integrity_pass(&[], ia.binding(), ib.binding())?,
                integrity_pass(&["DST_STATE"], ib.binding(), g.state.binding())?,
            ],
            gravity: pass("biome/gravity", &[], &[P, Rw, Rw, Rw], &grid3)?,
            diffuse: pass(
                "biome/diffuse",
                &[],
                &[P, Ro, Ro, Rw],
                &[g.types.binding(), g.state.binding(), g.offer.binding()],
            )?,
            energy: pass(
                "biome/energy",
                &[],
                &[P, Ro, Rw, Rw, Rw],
                &[
                    g.offer.binding(),
                    g.types.binding(),
                    g.state.binding(),
                    g.ids.binding(),
                ],
            )?,
            propose: pass(
                "biome/propose",
                &[],
                &[P, Ro, Rw],
                &[g.types.binding(), g.proposal.binding()],
            )?,
            choose: pass(
                "biome/choose",
                &[],
                &[P, Ro, Rw],
                &[g.proposal.binding(), g.choice.binding()],
            )?,
            apply: pass(
                "biome/apply",
                &[],
                &[P, Ro, Ro, Ro, Ro, Ro, Rw, Rw, Rw],
                &[
                    g.proposal.binding(),
                    g.choice.binding(),
                    g.prev_types.binding(),
                    g.prev_state.binding(),
                    g.prev_ids.binding(),
                    g.types.binding(),
                    g.state.binding(),
                    g.ids.binding(),
                ],
            )?,
            age: pass(
                "biome/age",
                &[],
                &[P, Ro, Rw],
                &[g.types.binding(), g.state.binding()],
            )?,
            census: pass(
                "biome/census",
                &[],
                &[P, Ro, Rw],
                &[g.types.binding(), census_counts.binding()],
            )?,
            params,
            census_counts,
        })
    }
}

impl World {
    fn grid_over(&self, items: usize) -> Grid {
        Grid::linear(
            items as u64,
            WG,
            self.ctx.limits().max_compute_workgroups_per_dimension,
        )
    }

    fn dispatch(&self, rec: &mut Recorder<'_>, pass: &Pass, block: usize, items: usize) {
        let offset = (block * std::mem::size_of::<StepParams>()) as u32;
        rec.dispatch_at(&pass.kernel, &pass.group, &[offset], self.grid_over(items));
    }

    /// Records one sub-step with the parameter block `block`.
    fn record_substep(&self, rec: &mut Recorder<'_>, sub: SubStep, block: usize) {
        let k = &self.kernels;
        let g = &self.grids;
        let cells = self.height() * self.width();
        let columns = self.width();
        match sub {
            SubStep::SoilBalance => {
                if self.config.soil_unbalance_limit > 0.0 {
                    self.dispatch(rec, &k.soil, block, columns);
                }
            }
            SubStep::Integrity => {
                for pass in &k.integrity {
                    self.dispatch(rec, pass, block, cells);
                }
            }
            SubStep::Gravity => self.dispatch(rec, &k.gravity, block, columns),
            SubStep::Energy => {
                self.dispatch(rec, &k.diffuse, block, cells);
                self.dispatch(rec, &k.energy, block, cells);
            }
            SubStep::Exclusive => {
                rec.copy(&g.types, &g.prev_types);
                rec.copy(&g.state, &g.prev_state);
                rec.copy(&g.ids, &g.prev_ids);
                self.dispatch(rec, &k.propose, block, cells);
                self.dispatch(rec, &k.choose, block, cells);
                self.dispatch(rec, &k.apply, block, cells);
            }
            SubStep::Aging => self.dispatch(rec, &k.age, block, cells),
        }
    }

    fn write_params(&self, first_step: u64, steps: usize) -> Result<()> {
        let blocks: Vec<StepParams> = (0..steps)
            .map(|i| {
                let mut p = StepParams::new(&self.config, self.seed, first_step + i as u64);
                p.record_slot = i as u32;
                p
            })
            .collect();
        self.kernels.params.write(&self.ctx, &blocks)
    }

    /// Runs one sub-step of the current step on its own, without advancing the step
    /// count (for tests and inspection: a whole step is [`World::run`]).
    pub fn run_substep(&mut self, sub: SubStep) -> Result<()> {
        self.write_params(self.step, 1)?;
        let mut rec = self.ctx.recorder("morphogen.biome.substep");
        self.record_substep(&mut rec, sub, 0);
        rec.submit()?.wait(&self.ctx)?;
        Ok(())
    }

    /// Runs `steps` whole steps, many per submission, with no readback.
    pub fn run(&mut self, steps: u64) -> Result<()> {
        self.run_with(steps, &RunOptions::default(), |_, _| Ok(()))
    }

    /// Runs `steps` steps in batches of `options.batch`; after each batch, calls
    /// `on_batch` with the steps done so far and (with `options.census`) the census after
    /// each step of the batch. An error from the callback stops the run.
    pub fn run_with(
        &mut self,
        steps: u64,
        options: &RunOptions,
        mut on_batch: impl FnMut(u64, &[Census]) -> Result<()>,
    ) -> Result<()> {
        let batch = options.batch.clamp(1, MAX_STEPS_PER_SUBMIT);
        let cells = self.height() * self.width();
        let mut left = steps;
        while left > 0 {
            let n = (left as usize).min(batch);
            self.write_params(self.step, n)?;
            let mut rec = self.ctx.recorder("morphogen.biome.steps");
            if options.census {
                rec.clear(&self.kernels.census_counts);
            }
            for block in 0..n {
                for sub in SubStep::ALL {
                    self.record_substep(&mut rec, sub, block);
                }
                if options.census {
                    self.dispatch(&mut rec, &self.kernels.census, block, cells);
                }
            }
            let counts = if options.census {
                Some(rec.read(&self.kernels.census_counts)?)
            } else {
                None
            };
            let submitted = rec.submit()?;
            let census = match counts {
                Some(pending) => {
                    let raw = pending.wait(&self.ctx)?;
                    (0..n)
                        .map(|i| {
                            let row = &raw[i * CENSUS_COUNTERS..][..kind::COUNT];
                            Census {
                                step: self.step + i as u64 + 1,
                                counts: row.try_into().expect("row of COUNT counters"),
                            }
                        })
                        .collect()
                }
                None => {
                    submitted.wait(&self.ctx)?;
                    Vec::new()
                }
            };
            self.step += n as u64;
            left -= n as u64;
            on_batch(self.step, &census)?;
        }
        Ok(())
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
