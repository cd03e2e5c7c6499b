//! The cost matrix of point-cloud problems, computed once on the GPU
//! (`shaders/transport/cost_matrix.wgsl`) when the iterations are cheaper streaming it
//! than recomputing every cost: in high dimension a cost is d subtractions and
//! multiply-adds, a matrix entry one load.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext, Grid, KernelDesc, Recorder, Submitted, Timing};
use crate::transport::config::CostStorage;
use crate::transport::dispatch::Windows;
use crate::transport::problem::{Geometry, Problem};

/// Rows (4 × `WG`) and columns (`CB`) of one workgroup's block, as in the kernel.
const BLOCK_ROWS: usize = 256;
const BLOCK_COLS: usize = 32;
/// Row coordinates an invocation holds (`D_MAX`).
pub(crate) const MAX_DIM: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    m: u32,
    batch: u32,
    gamma: f32,
    row0: u32,
    rows: u32,
    _pad: [u32; 2],
}

/// A batch of problems' point clouds, as the workspace holds them.
pub(crate) struct Clouds<'a> {
    pub source: &'a GpuBuffer<f32>,
    pub target: &'a GpuBuffer<f32>,
    pub batch: usize,
    pub n: usize,
    pub m: usize,
    pub dim: usize,
    /// The cost's shader define and γ.
    pub define: &'static str,
    pub gamma: f32,
}

impl Clouds<'_> {
    /// Bytes of one copy of the matrix (the batch's n × m costs).
    pub fn matrix_bytes(&self) -> u64 {
        4 * (self.batch * self.n * self.m) as u64
    }

    /// Why the matrix cannot be stored here, if it cannot: more than `MAX_DIM`
    /// dimensions, a copy beyond the device's largest buffer, a row of it or the points
    /// beyond one binding, or a batch whose matrix would need several bindings (a batch is
    /// never split into windows).
    fn obstacle(&self, ctx: &GpuContext) -> Option<Error> {
        let bytes = self.matrix_bytes();
        let binding = ctx.max_binding_bytes();
        let what = || {
            format!(
                "the {} x {} cost matrix of {} problem(s)",
                self.n, self.m, self.batch
            )
        };
        let hint = "use CostStorage::Online (costs recomputed from the points, any size) or \
                    Auto, or solve fewer problems per batch";
        if self.dim > MAX_DIM {
            return Some(Error::invalid(format!(
                "a stored cost matrix is built for points of up to {MAX_DIM} dimensions, these \
                 have {}; use CostStorage::Online or Auto",
                self.dim
            )));
        }
        let buffer = ctx.limits().max_buffer_size;
        if bytes > buffer {
            return Some(Error::LimitExceeded {
                what: what(),
                requested: bytes,
                limit: buffer,
                limit_name: "max_buffer_size",
                hint,
            });
        }
        // A window starts on the storage offset alignment: it holds at least that many
        // floats' worth of rows.
        let align_rows = (u64::from(ctx.limits().min_storage_buffer_offset_alignment) / 4).max(1);
        let widest = [
            4 * self.n.max(self.m) as u64 * align_rows,
            self.source.byte_size(),
            self.target.byte_size(),
        ];
        let over = widest.into_iter().max().unwrap_or(0);
        if over > binding || (self.batch > 1 && bytes > binding) {
            return Some(Error::LimitExceeded {
                what: what(),
                requested: if self.batch > 1 { bytes } else { over },
                limit: binding,
                limit_name: "max_storage_buffer_binding_size",
                hint,
            });
        }
        None
    }

    /// Whether `storage` asks for the matrix here. `Matrix` is refused with an error
    /// when the matrix cannot be stored; `Auto` quietly stays online.
    pub fn wants_matrix(&self, ctx: &GpuContext, storage: CostStorage) -> Result<bool> {
        let obstacle = self.obstacle(ctx);
        match storage {
            CostStorage::Online => Ok(false),
            CostStorage::Matrix => obstacle.map_or(Ok(true), Err),
            CostStorage::Auto {
                min_dim,
                budget_bytes,
            } => Ok(obstacle.is_none()
                && self.dim >= min_dim
                && self.matrix_bytes() <= budget_bytes
                // Before Mesa 25 a stored matrix is read in column windows, which a
                // batch cannot use; the on-the-fly path has its own.
                && ctx.loop_limit().is_none()),
        }
    }

    /// The matrix (batch × n × m), written in the row windows the solve reads it in.
    pub fn build(&self, ctx: &GpuContext, windows: &Windows) -> Result<GpuBuffer<f32>> {
        let mut rec = ctx.recorder("morphogen.transport.cost_matrix");
        let c = self.record_rows(ctx, &mut rec, windows)?;
        rec.submit()?;
        Ok(c)
    }

    /// Records the dispatches that write the matrix, window by window.
    fn record_rows(
        &self,
        ctx: &GpuContext,
        rec: &mut Recorder<'_>,
        windows: &Windows,
    ) -> Result<GpuBuffer<f32>> {
        let (xs, ys, n, m) = (self.source, self.target, self.n, self.m);
        let label = "morphogen.transport.cost_matrix";
        let out = GpuBuffer::<f32>::scratch(ctx, self.batch * n * m, label)?;
        let dim = self.dim.max(1);
        let kernel = ctx.kernel(
            &KernelDesc::new("transport/cost_matrix")
                .defines(&[self.define])
                .overrides(&[
                    ("D", dim as f64),
                    ("TILE_FLOATS", (BLOCK_COLS * dim) as f64),
                ]),
        )?;
        for &(start, count) in &windows.ranges {
            // One window holds a whole batch; several split one problem's rows.
            let (batch, row0, rows) = if windows.len() == 1 {
                (self.batch, 0, n)
            } else {
                (1, start, count)
            };
            let params = GpuBuffer::uniform(
                ctx,
                &Params {
                    n: n as u32,
                    m: m as u32,
                    batch: batch as u32,
                    gamma: self.gamma,
                    row0: row0 as u32,
                    rows: rows as u32,
                    _pad: [0; 2],
                },
                label,
            )?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("params", params.binding()),
                    ("xs", xs.binding()),
                    ("ys", ys.binding()),
                    ("c", out.binding_range(start * m, count * m)),
                ],
            )?;
            let groups = rows.div_ceil(BLOCK_ROWS) * m.div_ceil(BLOCK_COLS) * batch;
            rec.dispatch(
                &kernel,
                &group,
                Grid::folded(
                    groups as u64,
                    ctx.limits().max_compute_workgroups_per_dimension,
                    1,
                ),
            );
            rec.keep(params);
        }
        Ok(out)
    }
}

/// The n × m cost matrix of a problem (row-major), computed on the GPU: what a solve with
/// [`CostStorage::Matrix`] streams. Points are limited as there (up to 64 dimensions, the
/// points in one binding); a problem given as a matrix returns it.
pub fn cost_matrix(ctx: &GpuContext, problem: &Problem) -> Result<Vec<f32>> {
    if !matches!(problem.geometry, Geometry::Points { .. }) {
        return Ok((0..problem.n())
            .flat_map(|i| (0..problem.m()).map(move |j| (i, j)))
            .map(|(i, j)| problem.cost(i, j) as f32)
            .collect());
    }
    let (pending, submitted) = record_build(ctx, problem, false, |rec, c| rec.read(c))?;
    submitted.wait(ctx)?;
    pending.wait(ctx)
}

/// How long building `problem`'s cost matrix takes on the GPU, without reading it back
/// (the kernels' own rate; [`cost_matrix`] also pays the transfer). Points only.
pub fn time_cost_matrix(ctx: &GpuContext, problem: &Problem) -> Result<Timing> {
    let ((), submitted) = record_build(ctx, problem, true, |_, _| Ok(()))?;
    submitted.wait(ctx)
}

/// Uploads `problem`'s points, records the build (timed where asked) and `then` on the
/// matrix, and submits.
fn record_build<R>(
    ctx: &GpuContext,
    problem: &Problem,
    timed: bool,
    then: impl FnOnce(&mut Recorder<'_>, &GpuBuffer<f32>) -> Result<R>,
) -> Result<(R, Submitted)> {
    let Geometry::Points {
        source,
        target,
        cost,
    } = &problem.geometry
    else {
        return Err(Error::invalid(
            "a cost matrix is built from point clouds; this problem gives its matrix",
        ));
    };
    let xs = GpuBuffer::from_slice(ctx, source.points(), "morphogen.transport.source")?;
    let ys = GpuBuffer::from_slice(ctx, target.points(), "morphogen.transport.target")?;
    let clouds = Clouds {
        source: &xs,
        target: &ys,
        batch: 1,
        n: problem.n(),
        m: problem.m(),
        dim: problem.dim(),
        define: cost.define(),
        gamma: cost.gamma(),
    };
    clouds.wants_matrix(ctx, CostStorage::Matrix)?;
    let windows = Windows::new(
        problem.n(),
        problem.m(),
        ctx.max_binding_bytes(),
        ctx.limits().min_storage_buffer_offset_alignment,
    )?;
    let label = "morphogen.transport.cost_matrix";
    let mut rec = if timed {
        ctx.timed_recorder(label)?
    } else {
        ctx.recorder(label)
    };
    let c = clouds.record_rows(ctx, &mut rec, &windows)?;
    let result = then(&mut rec, &c)?;
    Ok((result, rec.submit()?))
}
