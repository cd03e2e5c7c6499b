//! Dispatches of the update kernel (`shaders/transport/update.wgsl`): its specialisation
//! for a problem shape, the step parameters of each dispatch, and the windows a problem
//! is split into when its points exceed one storage binding.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, Kernel, KernelDesc};

const WG: usize = 64;
/// Floats of target points per workgroup tile.
const TILE_BUDGET: usize = 4096;
/// Source coordinates an invocation keeps in registers, in vec4s (`XV_MAX`).
const XV_MAX: usize = 64;
/// Coordinates a lane holds for its column with subgroups (`D_MAX`).
const SUBGROUP_MAX_DIM: usize = 64;

/// Parameters of one dispatch (256 bytes: one dynamic-offset block). Mirrors `Step` in
/// update.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct StepBlock {
    pub rows: u32,
    pub cols: u32,
    pub batch: u32,
    pub side: u32,
    pub row_w_offset: u32,
    pub col_w_offset: u32,
    pub entropy: u32,
    pub stats_stride: u32,
    pub eps_decay_pow: f32,
    pub omega: f32,
    pub gamma: f32,
    /// Dense: read `row_pts` down its columns (the other side's matrix).
    pub transposed: u32,
    pub row_start: u32,
    pub col_start: u32,
    pub total_rows: u32,
    pub total_cols: u32,
    pub chunk_flags: u32,
    pub _tail: [u32; 47],
}

/// Per-problem scalars (`ProblemScalars` in update.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct ProblemScalars {
    pub eps: f32,
    pub inv_rho_a: f32,
    pub inv_rho_b: f32,
    pub start_ratio: f32,
}

/// What a dispatch of the update kernel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Mode {
    /// Update the potential of the rows.
    Update,
    /// Measure marginals, optimality gaps and costs of the current potentials.
    Stats,
    /// Sums, squares and maxima of the cost.
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
pub(crate) struct Shape {
    pub dim: usize,
    /// Invocations per workgroup.
    pub workgroup: usize,
    /// Columns per workgroup tile (without subgroups).
    tile: usize,
    x_in_memory: bool,
    subgroups: bool,
}

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
        // With subgroups a workgroup must hold whole subgroups.
        let workgroup = subgroup.map_or(WG, |(_, max)| (max as usize).max(WG));
        let subgroups = subgroup.is_some() && workgroup <= max_invocations;
        Self {
            dim,
            workgroup: if subgroups { workgroup } else { WG },
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
    pub fn rows_per_workgroup(&self) -> usize {
        self.workgroup * 4
    }
}

/// The kernel in its three modes.
pub(crate) struct Kernels {
    pub shape: Shape,
    pub chunked: bool,
    update: Arc<Kernel>,
    stats: Arc<Kernel>,
    moments: Arc<Kernel>,
}

impl Kernels {
    pub fn new(
        ctx: &GpuContext,
        cost_define: &'static str,
        dim: usize,
        chunked: bool,
    ) -> Result<Self> {
        let shape = Shape::new(dim, cost_define == "COST_DENSE", ctx);
        let mut defines = vec![cost_define];
        if shape.x_in_memory {
            defines.push("X_IN_MEMORY");
        }
        if shape.subgroups {
            defines.push("SUBGROUPS");
        }
        if chunked {
            defines.push("CHUNKED");
        }
        let overrides = shape.overrides();
        let mut variant = |mode: &'static str| {
            defines.push(mode);
            let kernel = ctx.kernel(
                &KernelDesc::new("transport/update")
                    .dynamic(&["step"])
                    .defines(&defines)
                    .overrides(&overrides),
            );
            defines.pop();
            kernel
        };
        Ok(Self {
            update: variant("UPDATE")?,
            stats: variant("STATS")?,
            moments: variant("MOMENTS")?,
            shape,
            chunked,
        })
    }

    pub fn get(&self, mode: Mode) -> &Arc<Kernel> {
        match mode {
            Mode::Update => &self.update,
            Mode::Stats => &self.stats,
            Mode::Moments => &self.moments,
        }
    }
}

/// Row ranges of one side's points, each within one binding.
#[derive(Clone, Debug)]
pub(crate) struct Windows {
    /// (first row, rows) of each window.
    pub ranges: Vec<(usize, usize)>,
}

impl Windows {
    /// Splits `rows` rows of `floats_per_row` floats into windows of at most
    /// `max_bytes`, each starting on the device's storage offset alignment.
    pub fn new(
        rows: usize,
        floats_per_row: usize,
        max_bytes: u64,
        align_bytes: u32,
    ) -> Result<Self> {
        let row_bytes = 4 * floats_per_row.max(1) as u64;
        if rows as u64 * row_bytes <= max_bytes {
            return Ok(Self {
                ranges: vec![(0, rows)],
            });
        }
        // A window starting at row r starts at byte 4 r f, aligned whenever r is a
        // multiple of the alignment in floats.
        let step = (u64::from(align_bytes) / 4).max(1);
        let per_window = (max_bytes / row_bytes) / step * step;
        if per_window == 0 {
            return Err(Error::LimitExceeded {
                what: "one point's row of data".into(),
                requested: row_bytes * step,
                limit: max_bytes,
                limit_name: "max_storage_buffer_binding_size",
                hint: "reduce the dimension or the number of columns of the cost matrix",
            });
        }
        let per_window = per_window as usize;
        Ok(Self {
            ranges: (0..rows)
                .step_by(per_window)
                .map(|start| (start, per_window.min(rows - start)))
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }
}
