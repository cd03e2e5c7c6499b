//! The cost matrix of point-cloud problems, computed once on the GPU
//! (`shaders/transport/cost_matrix.wgsl`) when the iterations are cheaper streaming it
//! than recomputing every cost: in high dimension a cost is d subtractions and
//! multiply-adds, a matrix entry one load.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{Binding, GpuBuffer, GpuContext, Grid, KernelDesc};
use crate::transport::config::CostStorage;
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

    /// Whether `storage` asks for the matrix here. `Matrix` is refused with an error
    /// when the matrix does not fit one binding; `Auto` quietly stays online.
    pub fn wants_matrix(&self, ctx: &GpuContext, storage: CostStorage) -> Result<bool> {
        let bytes = self.matrix_bytes();
        let fits = bytes <= ctx.max_binding_bytes() && self.dim <= MAX_DIM;
        match storage {
            CostStorage::Online => Ok(false),
            CostStorage::Matrix if fits => Ok(true),
            CostStorage::Matrix if self.dim > MAX_DIM => Err(Error::invalid(format!(
                "a stored cost matrix is built for points of up to {MAX_DIM} dimensions, these \
                 have {}; use CostStorage::Online or Auto",
                self.dim
            ))),
            CostStorage::Matrix => Err(Error::LimitExceeded {
                what: format!(
                    "the {} x {} cost matrix of {} problem(s)",
                    self.n, self.m, self.batch
                ),
                requested: bytes,
                limit: ctx.max_binding_bytes(),
                limit_name: "max_storage_buffer_binding_size",
                hint: "use CostStorage::Online (costs recomputed from the points, any size) \
                       or Auto, or solve fewer problems per batch",
            }),
            CostStorage::Auto {
                min_dim,
                budget_bytes,
            } => Ok(fits
                && self.dim >= min_dim
                && 2 * bytes <= budget_bytes
                // Before Mesa 25 a stored matrix is read in column windows, which a
                // batch cannot use; the on-the-fly path has its own.
                && ctx.loop_limit().is_none()),
        }
    }

    /// The matrix (batch × n × m) and its transpose (batch × m × n).
    pub fn build(&self, ctx: &GpuContext) -> Result<[GpuBuffer<f32>; 2]> {
        let len = self.batch * self.n * self.m;
        let c = GpuBuffer::<f32>::scratch(ctx, len, "morphogen.transport.cost_matrix")?;
        let ct = GpuBuffer::<f32>::scratch(ctx, len, "morphogen.transport.cost_matrix_t")?;
        let dim = self.dim.max(1);
        let kernel = ctx.kernel(
            &KernelDesc::new(
                "transport/cost_matrix",
                &[
                    Binding::Uniform,
                    Binding::StorageRead,
                    Binding::StorageRead,
                    Binding::Storage,
                    Binding::Storage,
                ],
            )
            .defines(&[self.define])
            .overrides(&[
                ("D", dim as f64),
                ("TILE_FLOATS", (BLOCK_COLS * dim) as f64),
            ]),
        )?;
        let params = GpuBuffer::uniform(
            ctx,
            &Params {
                n: self.n as u32,
                m: self.m as u32,
                batch: self.batch as u32,
                gamma: self.gamma,
            },
            "morphogen.transport.cost_matrix.params",
        )?;
        let group = kernel.bind(
            ctx,
            &[
                params.binding(),
                self.source.binding(),
                self.target.binding(),
                c.binding(),
                ct.binding(),
            ],
        )?;
        let groups = self.n.div_ceil(BLOCK_ROWS) * self.m.div_ceil(BLOCK_COLS) * self.batch;
        let mut rec = ctx.recorder("morphogen.transport.cost_matrix");
        rec.dispatch(
            &kernel,
            &group,
            Grid::folded(
                groups as u64,
                ctx.limits().max_compute_workgroups_per_dimension,
                1,
            ),
        );
        rec.submit()?;
        Ok([c, ct])
    }
}

/// The n × m cost matrix of a problem (row-major), computed on the GPU: what a solve with
/// [`CostStorage::Matrix`] streams. Points are limited as there (one binding, up to 64
/// dimensions); a problem given as a matrix returns it.
pub fn cost_matrix(ctx: &GpuContext, problem: &Problem) -> Result<Vec<f32>> {
    let Geometry::Points {
        source,
        target,
        cost,
    } = &problem.geometry
    else {
        return Ok((0..problem.n())
            .flat_map(|i| (0..problem.m()).map(move |j| (i, j)))
            .map(|(i, j)| problem.cost(i, j) as f32)
            .collect());
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
    let [c, _] = clouds.build(ctx)?;
    c.read(ctx)
}
