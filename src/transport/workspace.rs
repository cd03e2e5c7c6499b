//! GPU state of a batch of equally shaped transport problems, and the dispatches that
//! update and measure it.

use std::collections::HashMap;
use std::sync::Arc;

use bytemuck::Zeroable;

use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext, Grid, Recorder};
use crate::transport::config::{Convention, CostStorage};
use crate::transport::cost_matrix::Clouds;
use crate::transport::dispatch::{Kernels, Mode, ProblemScalars, Side, StepBlock, Windows};
use crate::transport::problem::{Geometry, Problem};
use crate::transport::schedule::{CostStats, Resolved};

/// Stats segments are padded to this many floats so each starts 256-byte aligned.
const SEGMENT_ALIGN: usize = 64;
/// Step blocks of one submission, at least.
const MIN_STEP_CAPACITY: usize = 160;

fn pad(len: usize) -> usize {
    len.div_ceil(SEGMENT_ALIGN) * SEGMENT_ALIGN
}

/// Resident state of B problems of equal shape.
pub(crate) struct Workspace {
    pub ctx: GpuContext,
    pub batch: usize,
    pub n: usize,
    pub m: usize,
    pub convention: Convention,
    gamma: f32,
    cost_define: &'static str,
    /// Source points (B × n × d), or the cost matrix (B × n × m).
    pub source: GpuBuffer<f32>,
    /// Target points (B × m × d), or the transposed cost matrix (B × m × n).
    pub target: GpuBuffer<f32>,
    /// The stored cost matrix of point-cloud problems (B × n × m), when the iterations
    /// stream it (see [`CostStorage`]); the target pass reads it down its columns.
    matrix: Option<GpuBuffer<f32>>,
    /// Floats per row of what the update kernel reads on each side.
    strides: [usize; 2],
    /// Row windows of `source` and `target` (one each unless a side exceeds a binding).
    windows: [Windows; 2],
    /// Column windows of a pass over the source and over the target.
    column_windows: [Windows; 2],
    /// Natural log-weights: B × n of the source, then B × m of the target.
    pub log_w: GpuBuffer<f32>,
    scalars: GpuBuffer<ProblemScalars>,
    /// Potentials, double-buffered: the current pair is `f[parity]`, `g[parity]`.
    pub f: [GpuBuffer<f32>; 2],
    pub g: [GpuBuffer<f32>; 2],
    pub parity: usize,
    pub stats_rows: GpuBuffer<f32>,
    pub stats_cols: GpuBuffer<f32>,
    /// Partial sums carried across column windows (chunked problems only).
    carry: Option<GpuBuffer<[f32; 4]>>,
    steps: GpuBuffer<StepBlock>,
    step_capacity: usize,
    kernels: Kernels,
    groups: HashMap<(Mode, Side, usize, usize, usize), wgpu::BindGroup>,
}

impl Workspace {
    /// Uploads the problems (all of the same n, m, dimension and cost kind).
    pub(crate) fn new(
        ctx: &GpuContext,
        problems: &[&Problem],
        convention: Convention,
        storage: CostStorage,
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
        let (source, target, cost_define, gamma, strides) = match &first.geometry {
            Geometry::Points { cost, .. } => {
                let mut xs = Vec::with_capacity(batch * n * dim);
                let mut ys = Vec::with_capacity(batch * m * dim);
                for p in problems {
                    if let Geometry::Points { source, target, .. } = &p.geometry {
                        xs.extend_from_slice(source.points());
                        ys.extend_from_slice(target.points());
                    }
                }
                (xs, ys, cost.define(), cost.gamma(), [dim, dim])
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
                (c, ct, "COST_DENSE", 0.0, [m, n])
            }
        };
        let source = GpuBuffer::from_slice(ctx, &source, "morphogen.transport.source")?;
        let target = GpuBuffer::from_slice(ctx, &target, "morphogen.transport.target")?;
        let clouds = Clouds {
            source: &source,
            target: &target,
            batch,
            n,
            m,
            dim,
            define: cost_define,
            gamma,
        };
        let stored = cost_define != "COST_DENSE" && clouds.wants_matrix(ctx, storage)?;
        let dense = cost_define == "COST_DENSE" || stored;
        let strides = if dense { [m, n] } else { strides };
        let limit = ctx.max_binding_bytes();
        let align = ctx.limits().min_storage_buffer_offset_alignment;
        let mut windows = [
            Windows::new(batch * n, strides[0], limit, align)?,
            Windows::new(batch * m, strides[1], limit, align)?,
        ];
        if let Some(iterations) = ctx.loop_limit() {
            // Each invocation loops over every column of its window, up to three times
            // (the redo), with a loop over the coordinates inside: keep that under the
            // driver's budget by windowing the columns.
            let per_column = 3 * (dim.max(1) + 4) as u64;
            let columns = (iterations / per_column / 2).max(64) as usize;
            for (w, &stride) in windows.iter_mut().zip(&strides) {
                let rows = w.ranges.iter().map(|r| r.1).sum::<usize>();
                let capped = Windows::new(rows, stride, 4 * (columns * stride) as u64, align)?;
                if capped.len() > w.len() {
                    *w = capped;
                }
            }
        }
        // Columns of a pass over one side are the other side's points, in its windows; a
        // cost matrix's rows hold every column, windowed only under a loop budget.
        let column_windows = if dense {
            let per_window = ctx
                .loop_limit()
                .map_or(usize::MAX, |l| (l / 24).max(64) as usize);
            let split = |columns: usize| Windows {
                ranges: (0..columns)
                    .step_by(per_window.min(columns.max(1)))
                    .map(|s| (s, per_window.min(columns - s)))
                    .collect(),
            };
            // A stored matrix has no transpose: the target pass reads its windows of rows
            // as windows of columns, and its own rows need no binding of their own.
            if stored {
                windows[1] = split(batch * m);
                [split(batch * m), windows[0].clone()]
            } else {
                [split(batch * m), split(batch * n)]
            }
        } else {
            [windows[1].clone(), windows[0].clone()]
        };
        // A stored matrix is written in the windows the solve reads.
        let matrix = if stored {
            Some(clouds.build(ctx, &windows[0])?)
        } else {
            None
        };
        let chunked = windows.iter().chain(&column_windows).any(|w| w.len() > 1);
        if chunked && batch > 1 {
            return Err(Error::LimitExceeded {
                what: format!("the points of a batch of {batch} problems"),
                requested: 4 * (batch * n.max(m) * strides[0].max(strides[1])) as u64,
                limit,
                limit_name: "max_storage_buffer_binding_size",
                hint: "solve the problems one at a time (single problems larger than a binding are split automatically)",
            });
        }
        let mut log_w: Vec<f32> = Vec::with_capacity(batch * (n + m));
        for p in problems {
            log_w.extend(p.a.iter().map(|&w| w.ln()));
        }
        for p in problems {
            log_w.extend(p.b.iter().map(|&w| w.ln()));
        }
        let update_define = if dense { "COST_DENSE" } else { cost_define };
        let kernels = Kernels::new(ctx, update_define, dim, chunked)?;
        // An iteration dispatches once per (row window, column window) on each side.
        let per_iteration =
            windows[0].len() * column_windows[0].len() + windows[1].len() * column_windows[1].len();
        let step_capacity = MIN_STEP_CAPACITY.max(4 * per_iteration);
        let carry = if chunked {
            Some(GpuBuffer::zeroed(
                ctx,
                n.max(m),
                "morphogen.transport.carry",
            )?)
        } else {
            None
        };
        Ok(Self {
            batch,
            n,
            m,
            convention,
            gamma,
            cost_define,
            source,
            target,
            matrix,
            strides,
            windows,
            column_windows,
            log_w: GpuBuffer::from_slice(ctx, &log_w, "morphogen.transport.log_w")?,
            scalars: GpuBuffer::from_slice(
                ctx,
                &vec![ProblemScalars::zeroed(); batch],
                "morphogen.transport.scalars",
            )?,
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
            carry,
            steps: GpuBuffer::uniform_slice(
                ctx,
                &vec![StepBlock::zeroed(); step_capacity],
                "morphogen.transport.steps",
            )?,
            step_capacity,
            kernels,
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
        // The pass reads no potential; a unit ε keeps the kernel's scale finite.
        let unit = ProblemScalars {
            eps: 1.0,
            inv_rho_a: 0.0,
            inv_rho_b: 0.0,
            start_ratio: 1.0,
        };
        self.scalars.write(&self.ctx, &vec![unit; self.batch])?;
        let ctx = self.ctx.clone();
        let mut rec = ctx.recorder("morphogen.transport.cost_moments");
        let mut blocks = Vec::new();
        self.record(&mut rec, &mut blocks, Mode::Moments, Side::Source, 1.0, 1.0)?;
        self.write_steps(&blocks)?;
        let pending = rec.read(&self.stats_rows)?;
        rec.submit()?;
        let values = pending.wait(&ctx)?;
        let stride = self.stats_stride(Side::Source);
        let (n, m) = (self.n, self.m);
        Ok((0..self.batch)
            .map(|b| {
                let rows = b * n..(b + 1) * n;
                let seg = |k: usize| {
                    values[k * stride + rows.start..k * stride + rows.end]
                        .iter()
                        .map(|&v| f64::from(v))
                };
                let max = seg(2).fold(0.0f64, f64::max);
                CostStats::from_sums(seg(0).sum(), seg(1).sum(), max, (n * m) as f64)
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
        self.kernels.shape.dim
    }

    /// Whether the update kernel reads costs from a matrix (given or stored).
    pub(crate) fn reads_cost_matrix(&self) -> bool {
        self.matrix.is_some() || self.cost_define == "COST_DENSE"
    }

    /// Stride between the segments of the stats buffer of `side`.
    pub(crate) fn stats_stride(&self, side: Side) -> usize {
        match side {
            Side::Source => pad(self.batch * self.n),
            Side::Target => pad(self.batch * self.m),
        }
    }

    /// Dispatches one pass over `side` takes.
    pub(crate) fn dispatches(&self, side: Side) -> usize {
        let (rows, cols) = self.window_sets(side);
        rows.len() * cols.len()
    }

    /// Step blocks one submission may hold.
    pub(crate) fn step_capacity(&self) -> usize {
        self.step_capacity
    }

    /// Row windows of `side` and column windows (those of the other side; a cost
    /// matrix's rows hold every column, so it has one).
    fn window_sets(&self, side: Side) -> (Windows, Windows) {
        match side {
            Side::Source => (self.windows[0].clone(), self.column_windows[0].clone()),
            Side::Target => (self.windows[1].clone(), self.column_windows[1].clone()),
        }
    }

    /// Writes the step blocks of the next submission (lands before it).
    pub(crate) fn write_steps(&self, blocks: &[StepBlock]) -> Result<()> {
        if blocks.len() > self.step_capacity {
            return Err(Error::Gpu {
                context: "transport step parameters".into(),
                message: format!(
                    "{} blocks exceed the capacity {}",
                    blocks.len(),
                    self.step_capacity
                ),
            });
        }
        self.steps.write(&self.ctx, blocks)
    }

    fn step(
        &self,
        side: Side,
        rows: (usize, usize),
        cols: (usize, usize),
        flags: u32,
        decay_pow: f64,
        omega: f32,
    ) -> StepBlock {
        let (total_rows, total_cols, row_w, col_w) = match side {
            Side::Source => (self.n, self.m, 0, self.batch * self.n),
            Side::Target => (self.m, self.n, self.batch * self.n, 0),
        };
        let chunked = self.kernels.chunked;
        StepBlock {
            // Unchunked dispatches cover whole problems of the batch.
            rows: if chunked { rows.1 } else { total_rows } as u32,
            cols: if chunked { cols.1 } else { total_cols } as u32,
            batch: self.batch as u32,
            side: u32::from(side == Side::Target),
            row_w_offset: row_w as u32,
            col_w_offset: col_w as u32,
            entropy: u32::from(self.convention == Convention::Entropy),
            stats_stride: self.stats_stride(side) as u32,
            eps_decay_pow: decay_pow as f32,
            omega,
            gamma: self.gamma,
            transposed: u32::from(self.matrix.is_some() && side == Side::Target),
            row_start: rows.0 as u32,
            col_start: cols.0 as u32,
            total_rows: total_rows as u32,
            total_cols: total_cols as u32,
            chunk_flags: flags,
            _tail: [0; 47],
        }
    }

    fn group(
        &mut self,
        mode: Mode,
        side: Side,
        row_window: (usize, usize),
        col_window: (usize, usize),
        key_windows: (usize, usize),
    ) -> Result<&wgpu::BindGroup> {
        let key = (mode, side, self.parity, key_windows.0, key_windows.1);
        if !self.groups.contains_key(&key) {
            let p = self.parity;
            let block = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: self.steps.raw(),
                offset: 0,
                size: wgpu::BufferSize::new(std::mem::size_of::<StepBlock>() as u64),
            });
            // An iteration updates f[p] -> f[1-p] from g[p], then g[p] -> g[1-p] from the
            // new f[1-p]; stats and moments read the current pair f[p], g[p].
            let (rows, cols, row_stride, col_stride) = match (&self.matrix, side) {
                (Some(c), _) => (c, c, self.m, self.m),
                (None, Side::Source) => {
                    (&self.source, &self.target, self.strides[0], self.strides[1])
                }
                (None, Side::Target) => {
                    (&self.target, &self.source, self.strides[1], self.strides[0])
                }
            };
            // The target pass over a stored matrix reads its column window's rows.
            let row_window = if self.matrix.is_some() && side == Side::Target {
                col_window
            } else {
                row_window
            };
            let (col_pot, row_pot, out) = match (side, mode) {
                (Side::Source, Mode::Update) => (&self.g[p], &self.f[p], &self.f[1 - p]),
                (Side::Target, Mode::Update) => (&self.f[1 - p], &self.g[p], &self.g[1 - p]),
                (Side::Source, _) => (&self.g[p], &self.f[p], &self.stats_rows),
                (Side::Target, _) => (&self.f[p], &self.g[p], &self.stats_cols),
            };
            // A cost matrix's column side is never read: bind its first window.
            let col_window = if self.matrix.is_some() {
                self.windows[0].ranges[0]
            } else if self.reads_cost_matrix() {
                self.windows[usize::from(side == Side::Source)].ranges[0]
            } else {
                col_window
            };
            let mut resources = vec![
                ("step", block),
                ("problems", self.scalars.binding()),
                (
                    "row_pts",
                    rows.binding_range(row_window.0 * row_stride, row_window.1 * row_stride),
                ),
                (
                    "col_pts",
                    cols.binding_range(col_window.0 * col_stride, col_window.1 * col_stride),
                ),
                ("log_w", self.log_w.binding()),
                ("col_pot", col_pot.binding()),
                ("row_pot", row_pot.binding()),
                ("out", out.binding()),
            ];
            if let Some(carry) = &self.carry {
                resources.push(("carry", carry.binding()));
            }
            let group = self.kernels.get(mode).bind_named(&self.ctx, &resources)?;
            self.groups.insert(key, group);
        }
        Ok(&self.groups[&key])
    }

    /// Records one pass of `mode` over `side`: a dispatch per (row window, column
    /// window), its step blocks appended to `blocks`.
    pub(crate) fn record(
        &mut self,
        rec: &mut Recorder<'_>,
        blocks: &mut Vec<StepBlock>,
        mode: Mode,
        side: Side,
        decay_pow: f64,
        omega: f32,
    ) -> Result<()> {
        let (row_windows, col_windows) = self.window_sets(side);
        let kernel = Arc::clone(self.kernels.get(mode));
        let per_group = self.kernels.shape.rows_per_workgroup();
        let max_dim = self.ctx.limits().max_compute_workgroups_per_dimension;
        let last = col_windows.len() - 1;
        for (ri, &rw) in row_windows.ranges.iter().enumerate() {
            for (ci, &cw) in col_windows.ranges.iter().enumerate() {
                let flags = u32::from(ci == 0) | (u32::from(ci == last) << 1);
                let step = self.step(side, rw, cw, flags, decay_pow, omega);
                let rows = step.rows as usize;
                blocks.push(step);
                let offset = ((blocks.len() - 1) * std::mem::size_of::<StepBlock>()) as u32;
                let groups = rows.div_ceil(per_group) * self.batch;
                let group = self.group(mode, side, rw, cw, (ri, ci))?;
                rec.dispatch_at(
                    &kernel,
                    group,
                    &[offset],
                    Grid::folded(groups as u64, max_dim, 1),
                );
            }
        }
        Ok(())
    }

    /// Records one iteration: f from g, then g from the new f. The new pair becomes
    /// current.
    pub(crate) fn record_iteration(
        &mut self,
        rec: &mut Recorder<'_>,
        blocks: &mut Vec<StepBlock>,
        decay_pow: f64,
        omega: f32,
    ) -> Result<()> {
        self.record(rec, blocks, Mode::Update, Side::Source, decay_pow, omega)?;
        self.record(rec, blocks, Mode::Update, Side::Target, decay_pow, omega)?;
        self.parity = 1 - self.parity;
        Ok(())
    }
}
