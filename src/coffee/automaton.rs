//! The GPU driver: replicas' grids resident on the GPU, the advance of either model in
//! dispatches of bounded length, and the coarse-graining passes into readback slots.

use std::sync::Arc;

use crate::coffee::config::{CoffeeConfig, Model};
use crate::coffee::params::{CoffeeParams, CLOCK_ATTEMPTS, CLOCK_SWAPS, CLOCK_WORDS};
use crate::coffee::reference::{initial_cells, initial_particles, ReplicaClock};
use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext, Grid, Kernel, KernelDesc, Recorder};

const WG: u32 = 64;

/// Parameter blocks (dispatches) one submission holds at most.
pub(crate) const MAX_BLOCKS: usize = 1024;

/// Expected attempts one interacting dispatch makes at most, so no dispatch runs long
/// enough to trip a desktop driver's watchdog.
const ATTEMPTS_PER_DISPATCH: u64 = 1 << 20;

/// Non-interacting steps one dispatch takes at most.
const WALK_STEPS_PER_DISPATCH: u64 = 1 << 12;

/// The full state of every replica, as the host sees it: enough to continue a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Cells of every replica, replica after replica, each `n × n` row-major: 0 coffee or
    /// 1 cream (interacting), particles per cell (non-interacting).
    pub cells: Vec<u32>,
    /// Non-interacting: the cell of every particle, replica after replica (`n² / 2` each).
    /// Empty for the interacting model.
    pub particles: Vec<u32>,
    /// Interacting: swaps and attempts of every replica. Non-interacting: both equal the
    /// steps taken.
    pub clocks: Vec<ReplicaClock>,
    /// The step (swaps for the interacting model) every replica has reached.
    pub step: u64,
}

struct Pass {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
}

/// Bytes of one sample's readback slot, in words: fine, coarse and adjusted bytes, row
/// totals, clocks, status (`pack.wgsl`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SlotLayout {
    pub words: usize,
    pub rows: usize,
    pub clocks: usize,
}

impl SlotLayout {
    pub fn new(config: &CoffeeConfig) -> Self {
        let (n, r) = (config.size, config.replicas);
        Self {
            words: r * n * n / 4,
            rows: r * n,
            clocks: r * CLOCK_WORDS as usize,
        }
    }

    pub fn len(&self) -> usize {
        3 * self.words + self.rows + self.clocks + 1
    }
}

/// The Coffee Automaton on the GPU: `replicas` independent grids of one model, advanced
/// together and coarse-grained on the GPU.
pub struct Automaton {
    pub(crate) ctx: GpuContext,
    pub(crate) config: CoffeeConfig,
    pub(crate) seed: u64,
    pub(crate) step: u64,
    pub(crate) slots: usize,
    params: GpuBuffer<CoffeeParams>,
    cells: GpuBuffer<u32>,
    particles: GpuBuffer<u32>,
    clock: GpuBuffer<u32>,
    status: GpuBuffer<u32>,
    pub(crate) out: GpuBuffer<u32>,
    /// The coarse-graining's intermediates (summed-area table, row totals, coarse,
    /// buckets, adjusted). Nothing reads them from the host, but the passes' bind groups
    /// write them: they stay owned here, or the pool would hand them to another owner
    /// while these passes still write into them.
    _scratch: [GpuBuffer<u32>; 5],
    advance: Pass,
    walk: Pass,
    count: Pass,
    sat_rows: Pass,
    sat_cols: Pass,
    coarse: Pass,
    adjust: Pass,
    pack: Pass,
    /// Expected attempts per swap, as last measured (sets the swaps per dispatch; the
    /// chain does not depend on it).
    attempts_per_swap: f64,
    blocks: Vec<CoffeeParams>,
}

impl Automaton {
    /// Every replica at the starting state (top half cream), step 0.
    pub fn new(ctx: &GpuContext, config: &CoffeeConfig, seed: u64) -> Result<Self> {
        config.validate().map_err(Error::invalid)?;
        let n = config.size;
        let r = config.replicas;
        let state = match config.model {
            Model::Interacting => State {
                cells: initial_cells(n).repeat(r),
                particles: Vec::new(),
                clocks: vec![ReplicaClock::default(); r],
                step: 0,
            },
            Model::NonInteracting => State {
                cells: initial_cells(n).repeat(r),
                particles: initial_particles(n).repeat(r),
                clocks: vec![ReplicaClock::default(); r],
                step: 0,
            },
        };
        Self::from_state(ctx, config, seed, &state)
    }

    /// Replicas continuing from `state` (from [`Automaton::state`] or a checkpoint).
    pub fn from_state(
        ctx: &GpuContext,
        config: &CoffeeConfig,
        seed: u64,
        state: &State,
    ) -> Result<Self> {
        config.validate().map_err(Error::invalid)?;
        check_state(config, state)?;
        let (n, r) = (config.size, config.replicas);
        let nn = n * n;
        let layout = SlotLayout::new(config);
        let slot_bytes = layout.len() as u64 * 4;
        let budget = ctx.max_binding_bytes().min(64 << 20);
        let grid_bytes = (r * nn * 4) as u64;
        if grid_bytes > ctx.max_binding_bytes() || slot_bytes > budget {
            return Err(Error::invalid(format!(
                "{r} replicas of {n} x {n} do not fit one GPU buffer binding ({} MiB); use \
                 fewer replicas or a smaller grid",
                ctx.max_binding_bytes() >> 20
            )));
        }
        let slots = (budget / slot_bytes).clamp(1, 64) as usize;
        let label = |what: &str| format!("morphogen.coffee.{what}");
        let params = GpuBuffer::uniform_slice(
            ctx,
            &[bytemuck::Zeroable::zeroed(); MAX_BLOCKS],
            &label("params"),
        )?;
        let cells = GpuBuffer::from_slice(ctx, &state.cells, &label("cells"))?;
        let particles = if state.particles.is_empty() {
            GpuBuffer::zeroed(ctx, 1, &label("particles"))?
        } else {
            GpuBuffer::from_slice(ctx, &state.particles, &label("particles"))?
        };
        let words: Vec<u32> = state
            .clocks
            .iter()
            .flat_map(|c| {
                [
                    c.swaps as u32,
                    (c.swaps >> 32) as u32,
                    c.attempts as u32,
                    (c.attempts >> 32) as u32,
                ]
            })
            .collect();
        let clock = GpuBuffer::from_slice(ctx, &words, &label("clock"))?;
        let status = GpuBuffer::zeroed(ctx, 1, &label("status"))?;
        let sat = GpuBuffer::<u32>::scratch(ctx, r * nn, &label("sat"))?;
        let row_totals = GpuBuffer::<u32>::scratch(ctx, r * n, &label("row_totals"))?;
        let coarse = GpuBuffer::<u32>::scratch(ctx, r * nn, &label("coarse"))?;
        let buckets = GpuBuffer::<u32>::scratch(ctx, r * nn, &label("buckets"))?;
        let adjusted = GpuBuffer::<u32>::scratch(ctx, r * nn, &label("adjusted"))?;
        let out = GpuBuffer::<u32>::zeroed(ctx, slots * layout.len(), &label("out"))?;
        let table: Vec<(&str, wgpu::BindingResource<'_>)> = vec![
            ("params", params.binding_range(0, 1)),
            ("cells", cells.binding()),
            ("particles", particles.binding()),
            ("clock", clock.binding()),
            ("status", status.binding()),
            ("sat", sat.binding()),
            ("row_totals", row_totals.binding()),
            ("coarse", coarse.binding()),
            ("buckets", buckets.binding()),
            ("adjusted", adjusted.binding()),
            ("out", out.binding()),
        ];
        let pass = |name: &str| -> Result<Pass> {
            let shader = format!("coffee/{name}");
            let kernel = ctx.kernel(
                &KernelDesc::new(&shader)
                    .dynamic(&["params"])
                    .overrides(&[("WG", f64::from(WG))]),
            )?;
            let group = kernel.bind_from(ctx, &[&table])?;
            Ok(Pass { kernel, group })
        };
        Ok(Self {
            advance: pass("advance")?,
            walk: pass("walk")?,
            count: pass("count")?,
            sat_rows: pass("sat_rows")?,
            sat_cols: pass("sat_cols")?,
            coarse: pass("coarse")?,
            adjust: pass("adjust")?,
            pack: pass("pack")?,
            ctx: ctx.clone(),
            config: config.clone(),
            seed,
            step: state.step,
            slots,
            params,
            cells,
            particles,
            clock,
            status,
            out,
            _scratch: [sat, row_totals, coarse, buckets, adjusted],
            attempts_per_swap: 2.0 * n as f64,
            blocks: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CoffeeConfig {
        &self.config
    }

    /// The GPU context the replicas live on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The seed of every replica's random stream.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The step (swaps for the interacting model) every replica has reached.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Reads every replica's state back.
    pub fn state(&self) -> Result<State> {
        let cells = self.cells.read(&self.ctx)?;
        let words = self.clock.read(&self.ctx)?;
        let interacting = self.config.model == Model::Interacting;
        let particles = if interacting {
            Vec::new()
        } else {
            self.particles.read(&self.ctx)?
        };
        let clocks = words
            .chunks(CLOCK_WORDS as usize)
            .map(|w| {
                if interacting {
                    ReplicaClock {
                        swaps: u64::from(w[0]) | u64::from(w[1]) << 32,
                        attempts: u64::from(w[2]) | u64::from(w[3]) << 32,
                    }
                } else {
                    ReplicaClock {
                        swaps: self.step,
                        attempts: self.step,
                    }
                }
            })
            .collect();
        // The non-interacting grid is rebuilt from the particles only when sampled.
        let cells = if interacting {
            cells
        } else {
            let n = self.config.size;
            particles
                .chunks(self.config.cream())
                .flat_map(|p| crate::coffee::reference::counts(p, n))
                .collect()
        };
        Ok(State {
            cells,
            particles,
            clocks,
            step: self.step,
        })
    }

    /// Advances every replica to step `to` (successful swaps for the interacting model,
    /// moves of every particle for the non-interacting one).
    pub fn advance_to(&mut self, to: u64) -> Result<()> {
        self.check_steps(to)?;
        while self.step < to {
            let ctx = self.ctx.clone();
            let mut rec = ctx.recorder("morphogen.coffee.advance");
            let mut reached = self.step;
            while reached < to && self.blocks.len() < MAX_BLOCKS {
                reached = self.record_advance_step(&mut rec, reached, to);
            }
            self.finish(rec)?;
            self.step = reached;
            self.check_status()?;
        }
        Ok(())
    }

    /// Interacting model only: advances every replica until its attempts (draws,
    /// rejected ones included) reach `attempts`. Replicas then differ in swaps; read them
    /// from [`Automaton::state`]. [`Automaton::step`] is left unchanged, so samples taken
    /// afterwards by [`Automaton::run_with`] carry the step of the last swap-clock
    /// target, not the replicas' own swap counts.
    pub fn advance_attempts_to(&mut self, attempts: u64) -> Result<()> {
        if self.config.model != Model::Interacting {
            return Err(Error::invalid(
                "the attempt clock belongs to the interacting model; the non-interacting \
                 model moves every particle every step",
            ));
        }
        // The clocks alone: (swaps lo, hi, attempts lo, hi) per replica.
        let start = self
            .clock
            .read(&self.ctx)?
            .chunks(CLOCK_WORDS as usize)
            .map(|w| u64::from(w[2]) | u64::from(w[3]) << 32)
            .min()
            .unwrap_or(0);
        let mut at = start;
        while at < attempts {
            let ctx = self.ctx.clone();
            let mut rec = ctx.recorder("morphogen.coffee.advance");
            while at < attempts && self.blocks.len() < MAX_BLOCKS {
                at = attempts.min(at + ATTEMPTS_PER_DISPATCH);
                let mut p = self.block();
                p.clock = CLOCK_ATTEMPTS;
                (p.goal_lo, p.goal_hi) = (at as u32, (at >> 32) as u32);
                self.dispatch(&mut rec, Which::Advance, p);
            }
            self.finish(rec)?;
        }
        self.check_status()
    }

    pub(crate) fn check_steps(&self, to: u64) -> Result<()> {
        if self.config.model == Model::NonInteracting && to > u64::from(u32::MAX) {
            return Err(Error::invalid(format!(
                "{to} steps of the non-interacting model: at most {} (each step moves every \
                 particle; the full reference run of n = 4096 takes 33.6 million)",
                u32::MAX
            )));
        }
        Ok(())
    }

    pub(crate) fn block(&self) -> CoffeeParams {
        CoffeeParams::new(&self.config, self.seed)
    }

    /// Records one dispatch of advance from `from` toward `to`; returns the step it
    /// reaches.
    pub(crate) fn record_advance_step(
        &mut self,
        rec: &mut Recorder<'_>,
        from: u64,
        to: u64,
    ) -> u64 {
        let mut p = self.block();
        match self.config.model {
            Model::Interacting => {
                let chunk = ((ATTEMPTS_PER_DISPATCH as f64 / self.attempts_per_swap) as u64).max(1);
                let reach = to.min(from + chunk);
                p.clock = CLOCK_SWAPS;
                (p.goal_lo, p.goal_hi) = (reach as u32, (reach >> 32) as u32);
                self.dispatch(rec, Which::Advance, p);
                reach
            }
            Model::NonInteracting => {
                let reach = to.min(from + WALK_STEPS_PER_DISPATCH);
                (p.first_step, p.end_step) = (from as u32, reach as u32);
                self.dispatch(rec, Which::Walk, p);
                reach
            }
        }
    }

    /// Records the coarse-graining of the current state into readback slot `slot`.
    pub(crate) fn record_sample(&mut self, rec: &mut Recorder<'_>, slot: usize) {
        let mut p = self.block();
        p.slot = slot as u32;
        if self.config.model == Model::NonInteracting {
            rec.clear(&self.cells);
            self.dispatch(rec, Which::Count, p);
        }
        for which in [
            Which::SatRows,
            Which::SatCols,
            Which::Coarse,
            Which::Adjust,
            Which::Pack,
        ] {
            self.dispatch(rec, which, p);
        }
    }

    fn dispatch(&mut self, rec: &mut Recorder<'_>, which: Which, p: CoffeeParams) {
        let (n, r) = (self.config.size as u64, self.config.replicas as u64);
        let (pass, items) = match which {
            Which::Advance => (&self.advance, r),
            Which::Walk => (&self.walk, r * self.config.cream() as u64),
            Which::Count => (&self.count, r * self.config.cream() as u64),
            Which::SatRows => (&self.sat_rows, r * n),
            Which::SatCols => (&self.sat_cols, r * n),
            Which::Coarse => (&self.coarse, r * n * n),
            Which::Adjust => (&self.adjust, r * n),
            Which::Pack => (&self.pack, r * n * n / 4),
        };
        let offset = (self.blocks.len() * std::mem::size_of::<CoffeeParams>()) as u32;
        let max = self.ctx.limits().max_compute_workgroups_per_dimension;
        rec.dispatch_at(
            &pass.kernel,
            &pass.group,
            &[offset],
            Grid::linear(items, WG, max),
        );
        self.blocks.push(p);
    }

    /// Blocks that fit the current submission.
    pub(crate) fn blocks_left(&self) -> usize {
        MAX_BLOCKS - self.blocks.len()
    }

    /// Dispatches one sample needs at most: the advance over `interval` steps and the
    /// coarse-graining passes.
    pub(crate) fn blocks_per_sample(&self, interval: u64) -> usize {
        let per = match self.config.model {
            Model::Interacting => {
                ((ATTEMPTS_PER_DISPATCH as f64 / self.attempts_per_swap) as u64).max(1)
            }
            Model::NonInteracting => WALK_STEPS_PER_DISPATCH,
        };
        interval.div_ceil(per) as usize + 6
    }

    /// Writes the recorded parameter blocks and submits, waiting for the GPU.
    fn finish(&mut self, rec: Recorder<'_>) -> Result<()> {
        self.params.write(&self.ctx, &self.blocks)?;
        self.blocks.clear();
        rec.submit()?.wait(&self.ctx)?;
        Ok(())
    }

    /// Writes the recorded parameter blocks and submits, returning the pending readback
    /// of the output slots.
    pub(crate) fn submit_with_readback(
        &mut self,
        mut rec: Recorder<'_>,
    ) -> Result<crate::gpu::Pending<u32>> {
        let pending = rec.read(&self.out)?;
        self.params.write(&self.ctx, &self.blocks)?;
        self.blocks.clear();
        rec.submit()?;
        Ok(pending)
    }

    /// Updates the expected attempts per swap from two readings of the clocks.
    pub(crate) fn observe(&mut self, before: &[ReplicaClock], after: &[ReplicaClock]) {
        let ratio = before
            .iter()
            .zip(after)
            .filter(|(b, a)| a.swaps > b.swaps)
            .map(|(b, a)| (a.attempts - b.attempts) as f64 / (a.swaps - b.swaps) as f64)
            .fold(0.0f64, f64::max);
        if ratio > 0.0 {
            // Twice the last rate, so a dispatch stays short if the rate climbs back.
            self.attempts_per_swap = (2.0 * ratio).clamp(1.0, 2.0 * self.config.size as f64);
        }
    }

    fn check_status(&self) -> Result<()> {
        if self.status.read(&self.ctx)?[0] != 0 {
            return Err(self.stalled());
        }
        Ok(())
    }

    /// The error of a stalled replica, with the status word cleared for later calls.
    pub(crate) fn stalled(&self) -> Error {
        let _ = self.status.write(&self.ctx, &[0]);
        stalled()
    }

    /// Forgets parameter blocks recorded into a submission that was not made.
    pub(crate) fn clear_blocks(&mut self) {
        self.blocks.clear();
    }
}

fn stalled() -> Error {
    Error::Gpu {
        context: "coffee advance".into(),
        message: format!(
            "a replica made {} attempts in one dispatch without reaching its target: the \
             grid has no differing neighbours (all cream or all coffee?)",
            u32::MAX
        ),
    }
}

#[derive(Clone, Copy)]
enum Which {
    Advance,
    Walk,
    Count,
    SatRows,
    SatCols,
    Coarse,
    Adjust,
    Pack,
}

fn check_state(config: &CoffeeConfig, state: &State) -> Result<()> {
    let (n, r) = (config.size, config.replicas);
    let nn = n * n;
    if state.cells.len() != r * nn {
        return Err(Error::invalid(format!(
            "the state has {} cells; {r} replicas of {n} x {n} need {}",
            state.cells.len(),
            r * nn
        )));
    }
    if state.clocks.len() != r {
        return Err(Error::invalid(format!(
            "the state has {} clocks for {r} replicas",
            state.clocks.len()
        )));
    }
    match config.model {
        Model::Interacting => {
            if let Some(v) = state.cells.iter().find(|&&v| v > 1) {
                return Err(Error::invalid(format!(
                    "an interacting cell holds {v}; cells are 0 (coffee) or 1 (cream)"
                )));
            }
            // A grid of one value has no differing neighbours: no swap could ever happen.
            if let Some(r) = state
                .cells
                .chunks(nn)
                .position(|g| g.iter().all(|&v| v == g[0]))
            {
                return Err(Error::invalid(format!(
                    "replica {r} is all {}: with no cream next to coffee nothing can swap",
                    if state.cells[r * nn] == 1 {
                        "cream"
                    } else {
                        "coffee"
                    }
                )));
            }
        }
        Model::NonInteracting => {
            if state.particles.len() != r * config.cream() {
                return Err(Error::invalid(format!(
                    "the state has {} particles; {r} replicas of {n} x {n} need {} ({} each)",
                    state.particles.len(),
                    r * config.cream(),
                    config.cream()
                )));
            }
            if let Some(p) = state.particles.iter().find(|&&p| p as usize >= nn) {
                return Err(Error::invalid(format!(
                    "a particle sits at cell {p}, outside the {n} x {n} grid"
                )));
            }
        }
    }
    Ok(())
}
