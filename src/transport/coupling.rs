//! A solved problem kept on the GPU: the entropic map of new points, samples from the
//! plan, and the dense plan of small problems.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, Grid, KernelDesc};
use crate::rng;
use crate::transport::config::{Convention, SinkhornConfig};
use crate::transport::dispatch::Side;
use crate::transport::problem::{Cost, Problem};
use crate::transport::solution::Solution;
use crate::transport::solver::{solve_resident, Solved};

const WG: u32 = 64;
/// The largest dense plan [`Coupling::plan`] writes (entries).
pub const MAX_PLAN_ENTRIES: usize = 1 << 26;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    count: u32,
    cols: u32,
    col_w_offset: u32,
    entropy: u32,
    eps: f32,
    gamma: f32,
    _pad: [f32; 2],
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
        Ok(Self {
            solved: solve_resident(ctx, &[problem], config)?,
            cost: problem.cost_kind(),
        })
    }

    /// The solution (potentials, costs, convergence).
    pub fn solution(&self) -> &Solution {
        &self.solved.solutions[0]
    }

    /// Takes the solution out.
    pub fn into_solution(mut self) -> Solution {
        self.solved.solutions.remove(0)
    }

    /// Maps, samples and plans read whole point buffers in one binding.
    fn require_whole(&self, what: &str) -> Result<()> {
        if self.solved.workspace.is_chunked() {
            return Err(Error::LimitExceeded {
                what: format!("{what} of a problem split across bindings"),
                requested: self.solved.workspace.source.byte_size().max(self.solved.workspace.target.byte_size()),
                limit: self.solved.workspace.ctx.max_binding_bytes(),
                limit_name: "max_storage_buffer_binding_size",
                hint: "the solve itself is split automatically; maps, samples and plans need the points of each side in one binding",
            });
        }
        Ok(())
    }

    fn params(&self, count: usize) -> Params {
        let ws = &self.solved.workspace;
        Params {
            count: count as u32,
            cols: ws.m as u32,
            col_w_offset: ws.n as u32,
            entropy: u32::from(ws.convention == Convention::Entropy),
            eps: self.solved.resolved[0].eps as f32,
            gamma: ws.gamma(),
            _pad: [0.0; 2],
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

    #[expect(
        clippy::too_many_arguments,
        reason = "a private helper; each caller names every part"
    )]
    /// Runs `shader` once over `count` queries with `params` and the named `inputs`
    /// (read-only storage) bound, and reads back `out`.
    fn run<T: bytemuck::Pod>(
        &self,
        shader: &str,
        define: &str,
        overrides: &[(&str, f64)],
        params: &Params,
        inputs: &[(&str, wgpu::BindingResource<'_>)],
        out: &GpuBuffer<T>,
        items: usize,
    ) -> Result<Vec<T>> {
        let ctx = &self.solved.workspace.ctx;
        let kernel = ctx.kernel(
            &KernelDesc::new(shader)
                .defines(&[define])
                .overrides(overrides),
        )?;
        let params = GpuBuffer::uniform(ctx, params, shader)?;
        let mut resources = vec![("params", params.binding())];
        resources.extend(inputs.iter().cloned());
        resources.push(("out", out.binding()));
        let group = kernel.bind_named(ctx, &resources)?;
        let mut rec = ctx.recorder(shader);
        let grid = Grid::linear(
            items as u64,
            WG,
            ctx.limits().max_compute_workgroups_per_dimension,
        );
        rec.dispatch(&kernel, &group, grid);
        let pending = rec.read(out)?;
        rec.submit()?;
        pending.wait(ctx)
    }

    /// The entropic map T(x) of source-space points (row-major, the problem's dimension):
    /// the barycentric projection Σ_j w_j(x) y_j for the squared Euclidean cost, and
    /// x − prox(∇f(x)) (soft thresholding) for the elastic cost.
    pub fn map(&self, points: &[f32]) -> Result<Vec<f32>> {
        self.require_whole("the entropic map")?;
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
        let count = points.len() / d;
        let ctx = &ws.ctx;
        let queries = GpuBuffer::from_slice(ctx, points, "morphogen.transport.map.x")?;
        let out = GpuBuffer::<f32>::scratch(ctx, points.len(), "morphogen.transport.map.out")?;
        let inputs = [
            ("query_pts", queries.binding()),
            ("col_pts", ws.target.binding()),
            ("log_w", ws.log_w.binding()),
            ("col_pot", ws.g[ws.parity].binding()),
        ];
        self.run(
            "transport/map",
            define,
            &self.tile_overrides(),
            &self.params(count),
            &inputs,
            &out,
            count,
        )
    }

    /// Draws `k` index pairs (i, j) from P / ΣP without forming P: rows from the plan's
    /// row masses, then each column from its row's conditional, by inverse transform on
    /// Philox uniforms keyed by `seed` (the same seed gives the same pairs).
    pub fn sample(&self, k: usize, seed: u64) -> Result<Vec<(u32, u32)>> {
        self.require_whole("plan sampling")?;
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
        let ctx = &ws.ctx;
        let draw_buf = GpuBuffer::from_slice(ctx, &draws, "morphogen.transport.sample.draws")?;
        let out = GpuBuffer::<u32>::scratch(ctx, k, "morphogen.transport.sample.out")?;
        let stride = ws.stats_stride(Side::Source);
        let inputs = [
            ("row_pts", ws.source.binding()),
            ("col_pts", ws.target.binding()),
            ("log_w", ws.log_w.binding()),
            ("col_pot", ws.g[ws.parity].binding()),
            ("row_lse", ws.stats_rows.binding_range(3 * stride, ws.n)),
            ("draws", draw_buf.binding()),
        ];
        let cols = self.run(
            "transport/sample",
            ws.cost_define(),
            &self.tile_overrides(),
            &self.params(k),
            &inputs,
            &out,
            k,
        )?;
        Ok(draws.iter().zip(cols).map(|(d, j)| (d[0], j)).collect())
    }

    /// The dense n × m plan, row-major. Refused above [`MAX_PLAN_ENTRIES`] entries or one
    /// binding: use [`Coupling::sample`] or [`Coupling::map`] for large problems.
    pub fn plan(&self) -> Result<Vec<f32>> {
        self.require_whole("the dense plan")?;
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
        let ctx = &ws.ctx;
        let out = GpuBuffer::<f32>::scratch(ctx, entries, "morphogen.transport.plan.out")?;
        let p = ws.parity;
        let inputs = [
            ("row_pts", ws.source.binding()),
            ("col_pts", ws.target.binding()),
            ("log_w", ws.log_w.binding()),
            ("row_pot", ws.f[p].binding()),
            ("col_pot", ws.g[p].binding()),
        ];
        let overrides = [("WG", f64::from(WG)), ("D", ws.dim() as f64)];
        self.run(
            "transport/plan",
            ws.cost_define(),
            &overrides,
            &self.params(ws.n),
            &inputs,
            &out,
            entries,
        )
    }
}
