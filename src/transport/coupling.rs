//! A solved problem kept on the GPU: the entropic map of new points, samples from the
//! plan, and the dense plan of small problems.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, Grid, KernelDesc};
use crate::rng;
use crate::transport::config::{Convention, SinkhornConfig};
use crate::transport::dispatch::{Side, Windows};
use crate::transport::problem::{Cost, Problem};
use crate::transport::solution::Solution;
use crate::transport::solver::{solve_resident, Solved};

const WG: u32 = 64;
/// The largest dense plan [`Coupling::plan`] writes (entries).
pub const MAX_PLAN_ENTRIES: usize = 1 << 26;

/// `ColumnParams` of `transport/column_tile.wgsl` (the plan kernel reads the same block).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    count: u32,
    cols: u32,
    col_w_offset: u32,
    entropy: u32,
    eps: f32,
    gamma: f32,
    col_start: u32,
    flags: u32,
    row_start: u32,
    row_stride: u32,
    first_query: u32,
    total_cols: u32,
}

/// `FIRST_WINDOW` and `LAST_WINDOW` of `transport/column_tile.wgsl`.
fn window_flags(index: usize, windows: usize) -> u32 {
    u32::from(index == 0) | (u32::from(index + 1 == windows) << 1)
}

/// How the kernels walk the problem: windows of source rows and of target columns, each
/// within one binding (one each unless a side exceeds a binding or a driver's loop
/// budget).
struct Layout {
    rows: Windows,
    cols: Windows,
    /// Floats per row of the source buffer (the dimension, or m for a cost matrix).
    row_stride: usize,
    /// Floats per row of the target buffer (the dimension, or n for a cost matrix).
    col_stride: usize,
    dense: bool,
}

/// One dispatch of a pass: its parameters, its bindings besides `params` and `out`, and
/// the invocations it needs.
struct Dispatch<'a> {
    params: Params,
    inputs: Vec<(&'static str, wgpu::BindingResource<'a>)>,
    items: usize,
}

/// Gradients of a transport value with respect to the points of each cloud (row-major,
/// shaped as the clouds).
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    /// With respect to the source points (n × d).
    pub source: Vec<f32>,
    /// With respect to the target points (m × d).
    pub target: Vec<f32>,
}

/// The entropic coupling of a solved problem, resident on the GPU.
///
/// ```no_run
/// use morphogen::gpu::GpuContext;
/// use morphogen::transport::{Coupling, PointCloud, Problem, SinkhornConfig};
///
/// let ctx = GpuContext::new()?;
/// let x = PointCloud::new(vec![0.0, 0.0, 1.0, 1.0], 2)?;
/// let y = PointCloud::new(vec![0.5, 0.0, 1.5, 1.0], 2)?;
/// let coupling = Coupling::solve(&ctx, &Problem::new(x, y)?, &SinkhornConfig::default().eps(0.05))?;
/// let moved = coupling.map(&[0.2, 0.1])?;           // T(x) for a new point
/// let pairs = coupling.sample(128, 7)?;            // (i, j) index pairs drawn from P
/// # Ok::<(), morphogen::Error>(())
/// ```
pub struct Coupling {
    solved: Solved,
    cost: Option<Cost>,
}

impl Coupling {
    /// Solves `problem` and keeps the result on the GPU.
    pub fn solve(
        ctx: &crate::gpu::GpuContext,
        problem: &Problem,
        config: &SinkhornConfig,
    ) -> Result<Self> {
        Self::solve_watched(ctx, problem, config, None)
    }

    /// [`Coupling::solve`] with `progress` called after each error check (see
    /// [`crate::transport::solve_with_progress`]).
    pub fn solve_with_progress(
        ctx: &crate::gpu::GpuContext,
        problem: &Problem,
        config: &SinkhornConfig,
        progress: crate::transport::SolveProgress<'_>,
    ) -> Result<Self> {
        Self::solve_watched(ctx, problem, config, Some(progress))
    }

    fn solve_watched(
        ctx: &crate::gpu::GpuContext,
        problem: &Problem,
        config: &SinkhornConfig,
        progress: Option<crate::transport::SolveProgress<'_>>,
    ) -> Result<Self> {
        Ok(Self {
            solved: solve_resident(ctx, &[problem], config, progress)?,
            cost: problem.cost_kind(),
        })
    }

    /// The solution (potentials, costs, convergence).
    pub fn solution(&self) -> &Solution {
        &self.solved.solutions[0]
    }

    /// The gradients of OT_ε with respect to the source and target points (row-major, as
    /// the clouds), for the squared Euclidean cost: by Danskin's theorem
    /// ∂OT_ε/∂x_i = Σ_j P_ij 2(x_i − y_j) = 2 r_i (x_i − T(x_i)) with r the plan's row
    /// masses and T [`Coupling::map`], and likewise for y with [`Coupling::map_back`].
    pub fn gradients(&self) -> Result<Gradients> {
        if self.cost != Some(Cost::SqEuclidean) {
            return Err(Error::invalid(format!(
                "gradients are implemented for the squared Euclidean cost; this problem's is {:?}",
                self.cost
            )));
        }
        // The points are resident: read them back rather than keep a host copy.
        let ws = &self.solved.workspace;
        let (source, target) = (ws.source.read(&ws.ctx)?, ws.target.read(&ws.ctx)?);
        let s = self.solution();
        let d = ws.dim();
        let side = |points: &[f32], image: Vec<f32>, mass: &[f64]| -> Vec<f32> {
            points
                .iter()
                .zip(image)
                .enumerate()
                .map(|(k, (&p, t))| (2.0 * mass[k / d] * f64::from(p - t)) as f32)
                .collect()
        };
        Ok(Gradients {
            source: side(&source, self.map(&source)?, &s.row_marginal),
            target: side(&target, self.map_back(&target)?, &s.col_marginal),
        })
    }

    /// Takes the solution out.
    pub fn into_solution(mut self) -> Solution {
        self.solved.solutions.remove(0)
    }

    fn layout(&self) -> Result<Layout> {
        let ws = &self.solved.workspace;
        let ctx = &ws.ctx;
        let limit = ctx.max_binding_bytes();
        let align = ctx.limits().min_storage_buffer_offset_alignment;
        let d = ws.dim();
        let dense = ws.cost_define() == "COST_DENSE";
        let (row_stride, col_stride) = if dense { (ws.m, ws.n) } else { (d, d) };
        // Each invocation walks every column of its window up to twice, with a loop over
        // the coordinates inside: under a driver's loop budget the windows shrink.
        let max_cols = ctx.loop_limit().map_or(usize::MAX, |l| {
            (l / (3 * (d as u64 + 4)) / 2).max(64) as usize
        });
        let cols = if dense {
            Windows {
                ranges: (0..ws.m)
                    .step_by(max_cols.min(ws.m.max(1)))
                    .map(|s| (s, max_cols.min(ws.m - s)))
                    .collect(),
            }
        } else {
            self.point_windows(ws.m)?
        };
        Ok(Layout {
            rows: Windows::new(ws.n, row_stride, limit, align)?,
            cols,
            row_stride,
            col_stride,
            dense,
        })
    }

    /// Windows of `count` points walked as columns: each within one binding and, under a
    /// driver's loop budget, short enough that an invocation walks it up to twice with a
    /// loop over the coordinates inside.
    fn point_windows(&self, count: usize) -> Result<Windows> {
        let ctx = &self.solved.workspace.ctx;
        let d = self.solved.workspace.dim();
        let max_cols = ctx.loop_limit().map_or(usize::MAX, |l| {
            (l / (3 * (d as u64 + 4)) / 2).max(64) as usize
        });
        let budget = (4 * max_cols.saturating_mul(d)) as u64;
        Windows::new(
            count,
            d,
            ctx.max_binding_bytes().min(budget),
            ctx.limits().min_storage_buffer_offset_alignment,
        )
    }

    /// The binding of the target points of column window `w` (a cost matrix's columns are
    /// read from its rows: the target side's first window is bound and unread).
    fn col_binding<'a>(
        &'a self,
        layout: &Layout,
        w: (usize, usize),
    ) -> Result<wgpu::BindingResource<'a>> {
        let ws = &self.solved.workspace;
        if layout.dense {
            let ctx = &ws.ctx;
            let first = Windows::new(
                ws.m,
                layout.col_stride,
                ctx.max_binding_bytes(),
                ctx.limits().min_storage_buffer_offset_alignment,
            )?
            .ranges[0];
            return Ok(ws.target.binding_range(0, first.1 * layout.col_stride));
        }
        Ok(ws
            .target
            .binding_range(w.0 * layout.col_stride, w.1 * layout.col_stride))
    }

    fn params(&self, count: usize, layout: &Layout, col: (usize, usize)) -> Params {
        let ws = &self.solved.workspace;
        Params {
            count: count as u32,
            cols: col.1 as u32,
            col_w_offset: ws.n as u32,
            entropy: u32::from(ws.convention == Convention::Entropy),
            eps: self.solved.resolved[0].eps as f32,
            gamma: ws.gamma(),
            col_start: col.0 as u32,
            flags: 0,
            row_start: 0,
            row_stride: layout.row_stride as u32,
            first_query: 0,
            total_cols: ws.m as u32,
        }
    }

    fn tile_overrides(&self) -> [(&'static str, f64); 4] {
        let d = self.solved.workspace.dim();
        let tile = (4096 / (d + 1)).clamp(1, 64);
        [
            ("WG", f64::from(WG)),
            ("TILE", tile as f64),
            ("D", d as f64),
            ("TILE_FLOATS", (tile * d) as f64),
        ]
    }

    /// Records `dispatches` of `shader` in order into one submission, each with its own
    /// parameters and the shared `out` bound, and reads back `out`.
    fn run<T: bytemuck::Pod>(
        &self,
        shader: &str,
        define: &str,
        overrides: &[(&str, f64)],
        dispatches: Vec<Dispatch<'_>>,
        out: &GpuBuffer<T>,
    ) -> Result<Vec<T>> {
        let ctx = &self.solved.workspace.ctx;
        let kernel = ctx.kernel(
            &KernelDesc::new(shader)
                .defines(&[define])
                .overrides(overrides),
        )?;
        let mut rec = ctx.recorder(shader);
        let max_dim = ctx.limits().max_compute_workgroups_per_dimension;
        let mut uniforms = Vec::with_capacity(dispatches.len());
        for d in &dispatches {
            uniforms.push(GpuBuffer::uniform(ctx, &d.params, shader)?);
        }
        for (d, params) in dispatches.into_iter().zip(&uniforms) {
            let mut resources = vec![("params", params.binding())];
            resources.extend(d.inputs);
            resources.push(("out", out.binding()));
            let group = kernel.bind_named(ctx, &resources)?;
            rec.dispatch(&kernel, &group, Grid::linear(d.items as u64, WG, max_dim));
        }
        let pending = rec.read(out)?;
        rec.submit()?;
        pending.wait(ctx)
    }

    /// The entropic map T(x) of source-space points (row-major, the problem's dimension):
    /// the barycentric projection Σ_j w_j(x) y_j for the squared Euclidean cost, and
    /// x − prox(∇f(x)) (soft thresholding) for the elastic cost.
    pub fn map(&self, points: &[f32]) -> Result<Vec<f32>> {
        self.map_toward(points, Side::Target)
    }

    /// The entropic map the other way, of target-space points: Σ_i w_i(y) x_i with
    /// w_i ∝ a_i exp((f_i − c(x_i, y))/ε) (and its elastic counterpart). With [`Coupling::map`]
    /// it gives the gradients of OT_ε with respect to both clouds (Danskin).
    pub fn map_back(&self, points: &[f32]) -> Result<Vec<f32>> {
        self.map_toward(points, Side::Source)
    }

    /// Maps `points` onto the cloud of side `toward`, whose potential weighs its points.
    fn map_toward(&self, points: &[f32], toward: Side) -> Result<Vec<f32>> {
        let ws = &self.solved.workspace;
        let define = match self.cost {
            Some(Cost::SqEuclidean) => "COST_SQEUCLID",
            Some(Cost::Elastic { .. }) => "COST_ELASTIC",
            other => {
                return Err(Error::invalid(format!(
                    "the entropic map is defined for the squared Euclidean and elastic costs, \
                     whose h is strictly convex; this problem's cost is {other:?}"
                )))
            }
        };
        let d = ws.dim();
        if points.is_empty() || !points.len().is_multiple_of(d) {
            return Err(Error::invalid(format!(
                "{} coordinates do not form points of dimension {d}",
                points.len()
            )));
        }
        if let Some(k) = points.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "map point {} has a non-finite coordinate",
                k / d
            )));
        }
        // The columns walked: the target's points weighed by g, or the source's by f.
        let (cloud, potential, count_cols, w_offset) = match toward {
            Side::Target => (&ws.target, &ws.g[ws.parity], ws.m, ws.n),
            Side::Source => (&ws.source, &ws.f[ws.parity], ws.n, 0),
        };
        let mut layout = self.layout()?;
        if toward == Side::Source {
            layout.cols = self.point_windows(count_cols)?;
        }
        let ctx = &ws.ctx;
        let windows = layout.cols.len();
        // Queries go in batches whose carried sums fit one binding.
        let carry_floats = 2 + 2 * d;
        let per_batch = ((ctx.max_binding_bytes() / 4) as usize / carry_floats).max(1);
        let mut mapped = Vec::with_capacity(points.len());
        for batch in points.chunks(per_batch * d) {
            let count = batch.len() / d;
            let queries = GpuBuffer::from_slice(ctx, batch, "morphogen.transport.map.x")?;
            let out = GpuBuffer::<f32>::scratch(ctx, batch.len(), "morphogen.transport.map.out")?;
            let carry_len = if windows > 1 { count * carry_floats } else { 1 };
            let carry = GpuBuffer::<f32>::scratch(ctx, carry_len, "morphogen.transport.map.carry")?;
            let mut dispatches = Vec::with_capacity(windows);
            for (ci, &cw) in layout.cols.ranges.iter().enumerate() {
                let mut params = self.params(count, &layout, cw);
                params.flags = window_flags(ci, windows);
                params.col_w_offset = w_offset as u32;
                params.total_cols = count_cols as u32;
                dispatches.push(Dispatch {
                    params,
                    inputs: vec![
                        ("query_pts", queries.binding()),
                        ("col_pts", cloud.binding_range(cw.0 * d, cw.1 * d)),
                        ("log_w", ws.log_w.binding()),
                        ("col_pot", potential.binding()),
                        ("carry", carry.binding()),
                    ],
                    items: count,
                });
            }
            mapped.extend(self.run(
                "transport/map",
                define,
                &self.tile_overrides(),
                dispatches,
                &out,
            )?);
        }
        Ok(mapped)
    }

    /// Draws `k` index pairs (i, j) from P / ΣP without forming P: rows from the plan's
    /// row masses, then each column from its row's conditional, by inverse transform on
    /// Philox uniforms keyed by `seed` (the same seed gives the same pairs).
    pub fn sample(&self, k: usize, seed: u64) -> Result<Vec<(u32, u32)>> {
        let ws = &self.solved.workspace;
        let masses = &self.solution().row_marginal;
        let total: f64 = masses.iter().filter(|m| m.is_finite()).sum();
        if total.is_nan() || total <= 0.0 {
            return Err(Error::invalid("the plan has no mass to sample from"));
        }
        let mut cdf = Vec::with_capacity(masses.len());
        let mut acc = 0.0;
        for &m in masses {
            acc += if m.is_finite() { m } else { 0.0 };
            cdf.push(acc / total);
        }
        let key = rng::seed_key(seed);
        let draws: Vec<[u32; 2]> = (0..k)
            .map(|s| {
                let words =
                    rng::philox4x32_10([s as u32, ((s as u64) >> 32) as u32, 0x5a4d_504c, 0], key);
                let u_row = f64::from(rng::u01(words[0]));
                let row = cdf.partition_point(|&c| c < u_row).min(masses.len() - 1);
                [row as u32, rng::u01(words[1]).to_bits()]
            })
            .collect();
        if k == 0 {
            return Ok(Vec::new());
        }
        let layout = self.layout()?;
        let ctx = &ws.ctx;
        let stride = ws.stats_stride(Side::Source);
        let windows = layout.cols.len();
        // Draws go in batches whose carried state (16 bytes each) fits one binding.
        let per_batch = ((ctx.max_binding_bytes() / 16) as usize).max(1);
        let mut pairs = Vec::with_capacity(k);
        for batch in draws.chunks(per_batch) {
            // Grouped by the source window that holds their row (stable: one window keeps
            // the drawing order).
            let window_of = |row: u32| {
                layout
                    .rows
                    .ranges
                    .partition_point(|r| r.0 + r.1 <= row as usize)
            };
            let mut order: Vec<usize> = (0..batch.len()).collect();
            order.sort_by_key(|&s| window_of(batch[s][0]));
            let sorted: Vec<[u32; 2]> = order.iter().map(|&s| batch[s]).collect();
            let draw_buf = GpuBuffer::from_slice(ctx, &sorted, "morphogen.transport.sample.draws")?;
            let out =
                GpuBuffer::<u32>::scratch(ctx, batch.len(), "morphogen.transport.sample.out")?;
            let carry_len = if windows > 1 { batch.len() } else { 1 };
            let carry =
                GpuBuffer::<[u32; 4]>::scratch(ctx, carry_len, "morphogen.transport.sample.carry")?;
            let mut dispatches = Vec::new();
            let mut first = 0;
            while first < sorted.len() {
                let window = window_of(sorted[first][0]);
                let count = sorted[first..]
                    .iter()
                    .take_while(|d| window_of(d[0]) == window)
                    .count();
                let rw = layout.rows.ranges[window];
                for (ci, &cw) in layout.cols.ranges.iter().enumerate() {
                    let mut params = self.params(count, &layout, cw);
                    params.flags = window_flags(ci, windows);
                    params.row_start = rw.0 as u32;
                    params.first_query = first as u32;
                    dispatches.push(Dispatch {
                        params,
                        inputs: vec![
                            (
                                "row_pts",
                                ws.source.binding_range(
                                    rw.0 * layout.row_stride,
                                    rw.1 * layout.row_stride,
                                ),
                            ),
                            ("col_pts", self.col_binding(&layout, cw)?),
                            ("log_w", ws.log_w.binding()),
                            ("col_pot", ws.g[ws.parity].binding()),
                            ("row_lse", ws.stats_rows.binding_range(3 * stride, ws.n)),
                            ("draws", draw_buf.binding()),
                            ("carry", carry.binding()),
                        ],
                        items: count,
                    });
                }
                first += count;
            }
            let cols = self.run(
                "transport/sample",
                ws.cost_define(),
                &self.tile_overrides(),
                dispatches,
                &out,
            )?;
            let mut chosen = vec![0u32; batch.len()];
            for (&s, j) in order.iter().zip(cols) {
                chosen[s] = j;
            }
            pairs.extend(batch.iter().zip(chosen).map(|(d, j)| (d[0], j)));
        }
        Ok(pairs)
    }

    /// The dense n × m plan, row-major. Refused above [`MAX_PLAN_ENTRIES`] entries or one
    /// binding: use [`Coupling::sample`] or [`Coupling::map`] for large problems.
    pub fn plan(&self) -> Result<Vec<f32>> {
        let ws = &self.solved.workspace;
        let entries = ws.n * ws.m;
        let limit = MAX_PLAN_ENTRIES.min((ws.ctx.max_binding_bytes() / 4) as usize);
        if entries > limit {
            return Err(Error::invalid(format!(
                "the dense plan would hold {} x {} = {entries} entries, above the limit of \
                 {limit}; sample from the plan or map points instead",
                ws.n, ws.m
            )));
        }
        let layout = self.layout()?;
        let ctx = &ws.ctx;
        let out = GpuBuffer::<f32>::scratch(ctx, entries, "morphogen.transport.plan.out")?;
        let p = ws.parity;
        let mut dispatches = Vec::new();
        for &rw in &layout.rows.ranges {
            for &cw in &layout.cols.ranges {
                let mut params = self.params(rw.1, &layout, cw);
                params.row_start = rw.0 as u32;
                dispatches.push(Dispatch {
                    params,
                    inputs: vec![
                        (
                            "row_pts",
                            ws.source
                                .binding_range(rw.0 * layout.row_stride, rw.1 * layout.row_stride),
                        ),
                        ("col_pts", self.col_binding(&layout, cw)?),
                        ("log_w", ws.log_w.binding()),
                        ("row_pot", ws.f[p].binding()),
                        ("col_pot", ws.g[p].binding()),
                    ],
                    items: rw.1 * cw.1,
                });
            }
        }
        let overrides = [("WG", f64::from(WG)), ("D", ws.dim() as f64)];
        self.run(
            "transport/plan",
            ws.cost_define(),
            &overrides,
            dispatches,
            &out,
        )
    }
}
