//! GPU buffers and kernels of a batch of equally shaped transport problems, and the
//! dispatches that update and measure them.

use std::collections::HashMap;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{Binding, GpuBuffer, GpuContext, Grid, Kernel, KernelDesc, Recorder};
use crate::transport::config::Convention;
use crate::transport::problem::{Geometry, Problem};
use crate::transport::schedule::{CostStats, Resolved};

const WG: u32 = 64;
/// Floats of target points per workgroup tile.
const TILE_BUDGET: usize = 4096;
/// Blocks of step parameters one submission may use.
pub(crate) const STEP_CAPACITY: usize = 160;
/// Stats segments are padded to this many floats so each starts 256-byte aligned.
const SEGMENT_ALIGN: usize = 64;

/// Parameters of one dispatch of `transport/update` (256 bytes: one dynamic-offset block).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct StepBlock {
    rows: u32,
    cols: u32,
    batch: u32,
    side: u32,
    row_w_offset: u32,
    col_w_offset: u32,
    entropy: u32,
    stats_stride: u32,
    eps_decay_pow: f32,
    omega: f32,
    gamma: f32,
    _pad: f32,
    _tail: [u32; 52],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ProblemScalars {
    eps: f32,
    inv_rho_a: f32,
    inv_rho_b: f32,
    start_ratio: f32,
}

/// What a dispatch of the update kernel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Update,
    Stats,
    Moments,
}

/// Which side a dispatch updates or measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// Rows are the source points; updates f.
    Source,
    /// Rows are the target points; updates g.
    Target,
}

/// How the update kernel is specialised for a problem shape.
#[derive(Clone, Debug)]
struct Shape {
    dim: usize,
    /// Invocations per workgroup.
    workgroup: usize,
    /// Columns per workgroup tile (without subgroups).
    tile: usize,
    x_in_memory: bool,
    subgroups: bool,
}

/// Source coordinates an invocation keeps in registers, in vec4s (`XV_MAX`).
const XV_MAX: usize = 64;
/// Coordinates a lane holds for its column with subgroups (`D_MAX`).
const SUBGROUP_MAX_DIM: usize = 64;

impl Shape {
    fn new(dim: usize, dense: bool, ctx: &GpuContext) -> Self {
        let dim = dim.max(1);
        let x_in_memory = !dense && dim > XV_MAX;
        let storage = ctx.limits().max_compute_workgroup_storage_size as usize / 4;
        let budget = TILE_BUDGET.min(storage.saturating_sub(128) * 3 / 4);
        let tile = (budget / (dim + 1)).clamp(1, 64);
        let subgroup = ctx
            .subgroups()
            .filter(|_| !dense && dim <= SUBGROUP_MAX_DIM);
        let max_invocations = ctx.limits().max_compute_invocations_per_workgroup as usize;
        let workgroup = match subgroup {
            Some((_, max)) => (max as usize).max(WG as usize),
            None => WG as usize,
        };
        let subgroups = subgroup.is_some() && workgroup <= max_invocations;
        let workgroup = if subgroups { workgroup } else { WG as usize };
        Self {
            dim,
            workgroup,
            tile,
            x_in_memory,
            subgroups,
        }
    }

    fn overrides(&self) -> [(&'static str, f64); 4] {
        [
            ("WG", self.workgroup as f64),
            ("TILE", self.tile as f64),
            ("D", self.dim as f64),
            ("TILE_FLOATS", (self.tile * self.dim) as f64),
        ]
    }

    /// Each invocation updates four rows (the lanes of a vec4).
    fn rows_per_workgroup(&self) -> usize {
        self.workgroup * 4
    }
}

/// The update and statistics kernels.
struct Kernels {
    shape: Shape,
    update: Arc<Kernel>,
    stats: Arc<Kernel>,
    moments: Arc<Kernel>,
}

impl Kernels {
    fn new(ctx: &GpuContext, cost_define: &'static str, dim: usize) -> Result<Self> {
        let shape = Shape::new(dim, cost_define == "COST_DENSE", ctx);
        let mut defines = vec![cost_define];
        if shape.x_in_memory {
            defines.push("X_IN_MEMORY");
        }
        if shape.subgroups {
            defines.push("SUBGROUPS");
        }
        let overrides = shape.overrides();
        let bindings = [
            Binding::UniformDynamic,
            Binding::StorageRead,
            Binding::StorageRead,
            Binding::StorageRead,
            Binding::StorageRead,
            Binding::StorageRead,
            Binding::StorageRead,
            Binding::Storage,
        ];
        let kernel = |defines: &[&str]| {
            ctx.kernel(
                &KernelDesc::new("transport/update", &bindings)
                    .defines(defines)
                    .overrides(&overrides),
            )
        };
        let mut variant = |mode: &'static str| {
            defines.push(mode);
            let k = kernel(&defines);
            defines.pop();
            k
        };
        Ok(Self {
            update: variant("UPDATE")?,
            stats: variant("STATS")?,
            moments: variant("MOMENTS")?,
            shape,
        })
    }
}

/// Resident state of B problems of equal shape.
pub(crate) struct Workspace {
    pub ctx: GpuContext,
    pub batch: usize,
    pub n: usize,
    pub m: usize,
    pub convention: Convention,
    gamma: f32,
    dim: usize,
    cost_define: &'static str,
    pub source: GpuBuffer<f32>,
    pub target: GpuBuffer<f32>,
    pub log_w: GpuBuffer<f32>,
    scalars: GpuBuffer<ProblemScalars>,
    /// Potentials, double-buffered: the current pair is `f[parity]`, `g[parity]`.
    pub f: [GpuBuffer<f32>; 2],
    pub g: [GpuBuffer<f32>; 2],
    pub parity: usize,
    pub stats_rows: GpuBuffer<f32>,
    pub stats_cols: GpuBuffer<f32>,
    steps: GpuBuffer<StepBlock>,
    kernels: Kernels,
    groups: HashMap<(Mode, Side, usize), wgpu::BindGroup>,
}

fn pad(len: usize) -> usize {
    len.div_ceil(SEGMENT_ALIGN) * SEGMENT_ALIGN
}

impl Workspace {
    /// Uploads the problems (all of the same n, m, dimension and cost kind).
    pub(crate) fn new(
        ctx: &GpuContext,
        problems: &[&Problem],
        convention: Convention,
    ) -> Result<Self> {
        let first = problems
            .first()
            .ok_or_else(|| Error::invalid("no problems to solve"))?;
        let (n, m, dim) = (first.n(), first.m(), first.dim());
        for (k, p) in problems.iter().enumerate() {
            let same_kind = std::mem::discriminant(&p.geometry)
                == std::mem::discriminant(&first.geometry)
                && p.cost_kind() == first.cost_kind();
            if p.n() != n || p.m() != m || p.dim() != dim || !same_kind {
                return Err(Error::invalid(format!(
                    "problem {k} of the batch is {}x{} in dimension {} with cost {:?}, but \
                     problem 0 is {n}x{m} in dimension {dim} with cost {:?}; a batch needs \
                     equal shapes and costs",
                    p.n(),
                    p.m(),
                    p.dim(),
                    p.cost_kind(),
                    first.cost_kind()
                )));
            }
        }
        let batch = problems.len();
        let (source, target, cost_define, gamma) = match &first.geometry {
            Geometry::Points { cost, .. } => {
                let mut xs = Vec::with_capacity(batch * n * dim);
                let mut ys = Vec::with_capacity(batch * m * dim);
                for p in problems {
                    if let Geometry::Points { source, target, .. } = &p.geometry {
                        xs.extend_from_slice(source.points());
                        ys.extend_from_slice(target.points());
                    }
                }
                (xs, ys, cost.define(), cost.gamma())
            }
            Geometry::Matrix { .. } => {
                let mut c = Vec::with_capacity(batch * n * m);
                let mut ct = Vec::with_capacity(batch * n * m);
                for p in problems {
                    if let Geometry::Matrix { cost, .. } = &p.geometry {
                        c.extend_from_slice(cost);
                        ct.extend((0..m).flat_map(|j| (0..n).map(move |i| cost[i * m + j])));
                    }
                }
                (c, ct, "COST_DENSE", 0.0)
            }
        };
        let limit = ctx.max_binding_bytes();
        for (what, len) in [
            ("source points", source.len()),
            ("target points", target.len()),
        ] {
            let bytes = 4 * len as u64;
            if bytes > limit {
                return Err(Error::LimitExceeded {
                    what: format!("the {what} of this batch"),
                    requested: bytes,
                    limit,
                    limit_name: "max_storage_buffer_binding_size",
                    hint: "solve fewer problems per batch, or use a GPU with larger bindings",
                });
            }
        }
        let mut log_w: Vec<f32> = Vec::with_capacity(batch * (n + m));
        for p in problems {
            log_w.extend(p.a.iter().map(|&w| w.ln()));
        }
        for p in problems {
            log_w.extend(p.b.iter().map(|&w| w.ln()));
        }
        let scalars = vec![ProblemScalars::zeroed(); batch];
        let kernels = Kernels::new(ctx, cost_define, dim)?;
        Ok(Self {
            batch,
            n,
            m,
            convention,
            gamma,
            cost_define,
            source: GpuBuffer::from_slice(ctx, &source, "morphogen.transport.source")?,
            target: GpuBuffer::from_slice(ctx, &target, "morphogen.transport.target")?,
            log_w: GpuBuffer::from_slice(ctx, &log_w, "morphogen.transport.log_w")?,
            scalars: GpuBuffer::from_slice(ctx, &scalars, "morphogen.transport.scalars")?,
            f: [
                GpuBuffer::zeroed(ctx, batch * n, "morphogen.transport.f0")?,
                GpuBuffer::zeroed(ctx, batch * n, "morphogen.transport.f1")?,
            ],
            g: [
                GpuBuffer::zeroed(ctx, batch * m, "morphogen.transport.g0")?,
                GpuBuffer::zeroed(ctx, batch * m, "morphogen.transport.g1")?,
            ],
            parity: 0,
            stats_rows: GpuBuffer::zeroed(
                ctx,
                4 * pad(batch * n),
                "morphogen.transport.stats_rows",
            )?,
            stats_cols: GpuBuffer::zeroed(
                ctx,
                4 * pad(batch * m),
                "morphogen.transport.stats_cols",
            )?,
            steps: GpuBuffer::uniform_slice(
                ctx,
                &[StepBlock::zeroed(); STEP_CAPACITY],
                "morphogen.transport.steps",
            )?,
            kernels,
            dim: dim.max(1),
            groups: HashMap::new(),
            ctx: ctx.clone(),
        })
    }

    /// Sets ε and ρ of every problem, and the weights after the balanced-mass correction.
    pub(crate) fn set_resolved(&self, resolved: &[Resolved]) -> Result<()> {
        let mut log_w: Vec<f32> = Vec::with_capacity(self.batch * (self.n + self.m));
        for r in resolved {
            log_w.extend(r.a.iter().map(|&w| w.ln()));
        }
        for r in resolved {
            log_w.extend(r.b.iter().map(|&w| w.ln()));
        }
        self.log_w.write(&self.ctx, &log_w)?;
        let scalars: Vec<ProblemScalars> = resolved
            .iter()
            .map(|r| ProblemScalars {
                eps: r.eps as f32,
                inv_rho_a: r.inv_rho_a as f32,
                inv_rho_b: r.inv_rho_b as f32,
                start_ratio: r.start_ratio() as f32,
            })
            .collect();
        self.scalars.write(&self.ctx, &scalars)
    }

    /// Mean, standard deviation and maximum of the cost of each problem, over all pairs
    /// (one pass on the GPU, no exp).
    pub(crate) fn cost_moments(&mut self) -> Result<Vec<CostStats>> {
        // Any ε works: the pass reads no potential. Give one so the kernel's scale is finite.
        let unit = vec![
            ProblemScalars {
                eps: 1.0,
                inv_rho_a: 0.0,
                inv_rho_b: 0.0,
                start_ratio: 1.0,
            };
            self.batch
        ];
        self.scalars.write(&self.ctx, &unit)?;
        let ctx = self.ctx.clone();
        let mut rec = ctx.recorder("morphogen.transport.cost_moments");
        self.write_steps(&[self.step(Side::Source, 1.0, 1.0)])?;
        let grid = self.grid(Side::Source);
        let kernel = Arc::clone(&self.kernels.moments);
        let group = self.group(Mode::Moments, Side::Source)?;
        rec.dispatch_at(&kernel, group, &[0], grid);
        let pending = rec.read(&self.stats_rows)?;
        rec.submit()?;
        let values = pending.wait(&ctx)?;
        let stride = self.stats_stride(Side::Source);
        let n = self.n;
        Ok((0..self.batch)
            .map(|b| {
                let rows = b * n..(b + 1) * n;
                let seg = |k: usize| {
                    values[k * stride + rows.start..k * stride + rows.end]
                        .iter()
                        .map(|&v| f64::from(v))
                };
                let max = seg(2).fold(0.0f64, f64::max);
                CostStats::from_sums(seg(0).sum(), seg(1).sum(), max, (n * self.m) as f64)
            })
            .collect())
    }

    /// The cost's shader define (for the map, plan and sampling kernels).
    pub(crate) fn cost_define(&self) -> &'static str {
        self.cost_define
    }

    /// The elastic cost's γ.
    pub(crate) fn gamma(&self) -> f32 {
        self.gamma
    }

    /// Point dimension the kernels were specialised for.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Stride between the segments of the stats buffer of `side`.
    pub(crate) fn stats_stride(&self, side: Side) -> usize {
        match side {
            Side::Source => pad(self.batch * self.n),
            Side::Target => pad(self.batch * self.m),
        }
    }

    /// The step block of one dispatch on `side`.
    pub(crate) fn step(&self, side: Side, decay_pow: f64, omega: f32) -> StepBlock {
        let (rows, cols, row_w, col_w) = match side {
            Side::Source => (self.n, self.m, 0, self.batch * self.n),
            Side::Target => (self.m, self.n, self.batch * self.n, 0),
        };
        StepBlock {
            rows: rows as u32,
            cols: cols as u32,
            batch: self.batch as u32,
            side: u32::from(side == Side::Target),
            row_w_offset: row_w as u32,
            col_w_offset: col_w as u32,
            entropy: u32::from(self.convention == Convention::Entropy),
            stats_stride: self.stats_stride(side) as u32,
            eps_decay_pow: decay_pow as f32,
            omega,
            gamma: self.gamma,
            _pad: 0.0,
            _tail: [0; 52],
        }
    }

    /// Writes the step blocks of the next submission (lands before it).
    pub(crate) fn write_steps(&self, blocks: &[StepBlock]) -> Result<()> {
        if blocks.len() > STEP_CAPACITY {
            return Err(Error::Gpu {
                context: "transport step parameters".into(),
                message: format!(
                    "{} blocks exceed the capacity {STEP_CAPACITY}",
                    blocks.len()
                ),
            });
        }
        self.steps.write(&self.ctx, blocks)
    }

    fn group(&mut self, mode: Mode, side: Side) -> Result<&wgpu::BindGroup> {
        let key = (mode, side, self.parity);
        let stats = mode != Mode::Update;
        if !self.groups.contains_key(&key) {
            let p = self.parity;
            let block = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: self.steps.raw(),
                offset: 0,
                size: wgpu::BufferSize::new(std::mem::size_of::<StepBlock>() as u64),
            });
            // An iteration updates f[p] -> f[1-p] from g[p], then g[p] -> g[1-p] from the
            // new f[1-p]; stats read the current pair f[p], g[p].
            let (row_pts, col_pts, col_pot, row_pot, out) = match (side, stats) {
                (Side::Source, false) => (
                    &self.source,
                    &self.target,
                    &self.g[p],
                    &self.f[p],
                    &self.f[1 - p],
                ),
                (Side::Target, false) => (
                    &self.target,
                    &self.source,
                    &self.f[1 - p],
                    &self.g[p],
                    &self.g[1 - p],
                ),
                (Side::Source, true) => (
                    &self.source,
                    &self.target,
                    &self.g[p],
                    &self.f[p],
                    &self.stats_rows,
                ),
                (Side::Target, true) => (
                    &self.target,
                    &self.source,
                    &self.f[p],
                    &self.g[p],
                    &self.stats_cols,
                ),
            };
            let kernel = if stats {
                &self.kernels.stats
            } else {
                &self.kernels.update
            };
            let group = kernel.bind(
                &self.ctx,
                &[
                    block,
                    self.scalars.binding(),
                    row_pts.binding(),
                    col_pts.binding(),
                    self.log_w.binding(),
                    col_pot.binding(),
                    row_pot.binding(),
                    out.binding(),
                ],
            )?;
            self.groups.insert(key, group);
        }
        Ok(&self.groups[&key])
    }

    fn grid(&self, side: Side) -> Grid {
        let rows = match side {
            Side::Source => self.n,
            Side::Target => self.m,
        };
        let groups = rows.div_ceil(self.kernels.shape.rows_per_workgroup()) * self.batch;
        Grid::folded(
            groups as u64,
            self.ctx.limits().max_compute_workgroups_per_dimension,
            1,
        )
    }

    /// Records one iteration: f from g with step block `source_block`, then g from the
    /// new f with `target_block`. The new pair becomes current.
    pub(crate) fn record_iteration(
        &mut self,
        rec: &mut Recorder<'_>,
        source_block: usize,
        target_block: usize,
    ) -> Result<()> {
        for (side, block) in [(Side::Source, source_block), (Side::Target, target_block)] {
            let grid = self.grid(side);
            let offset = (block * std::mem::size_of::<StepBlock>()) as u32;
            let kernel = Arc::clone(&self.kernels.update);
            let group = self.group(Mode::Update, side)?;
            rec.dispatch_at(&kernel, group, &[offset], grid);
        }
        self.parity = 1 - self.parity;
        Ok(())
    }

    /// Records the statistics pass of `side` for the current potentials.
    pub(crate) fn record_stats(
        &mut self,
        rec: &mut Recorder<'_>,
        side: Side,
        block: usize,
    ) -> Result<()> {
        let grid = self.grid(side);
        let offset = (block * std::mem::size_of::<StepBlock>()) as u32;
        let kernel = Arc::clone(&self.kernels.stats);
        let group = self.group(Mode::Stats, side)?;
        rec.dispatch_at(&kernel, group, &[offset], grid);
        Ok(())
    }
}
