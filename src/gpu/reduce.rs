//! Multi-pass reductions (sum, max, log-sum-exp) over rows of any length, and their CPU
//! f64 twin.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::KernelDesc;
use crate::gpu::record::{Grid, Recorder};

/// Invocations per workgroup of the reduction kernel.
const WG: u32 = 256;
/// Inputs each invocation folds per pass: one pass shrinks a row by WG * ITEMS.
const ITEMS: u32 = 8;

/// An associative reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum (compensated); 0 for an empty row.
    Sum,
    /// Maximum; −∞ for an empty row.
    Max,
    /// log Σ exp(x), max-shifted; −∞ for an empty row or a row of −∞.
    LogSumExp,
}

impl ReduceOp {
    fn define(self) -> &'static str {
        match self {
            Self::Sum => "OP_SUM",
            Self::Max => "OP_MAX",
            Self::LogSumExp => "OP_LSE",
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    groups_per_row: u32,
    rows: u32,
    _pad: u32,
}

/// Records the reduction of each of the `rows` consecutive rows of `row_len` values in
/// `input`; the returned buffer holds one result per row once the recording is submitted.
pub fn record_reduce(
    rec: &mut Recorder<'_>,
    input: &GpuBuffer<f32>,
    rows: usize,
    row_len: usize,
    op: ReduceOp,
) -> Result<GpuBuffer<f32>> {
    if rows.checked_mul(row_len) != Some(input.len()) {
        return Err(Error::invalid(format!(
            "reduction of {rows} rows of {row_len} values over a buffer of {}",
            input.len()
        )));
    }
    record_reduce_at(rec, input, 0, rows, row_len, op)
}

/// [`record_reduce`] over the `rows * row_len` values of `input` that start at element
/// `start` (`4 * start` must be a multiple of the device's storage offset alignment).
pub fn record_reduce_at(
    rec: &mut Recorder<'_>,
    input: &GpuBuffer<f32>,
    start: usize,
    rows: usize,
    row_len: usize,
    op: ReduceOp,
) -> Result<GpuBuffer<f32>> {
    let ctx = rec.context();
    let count = rows.saturating_mul(row_len);
    if start.checked_add(count).is_none_or(|end| end > input.len()) {
        return Err(Error::invalid(format!(
            "reduction of {rows} rows of {row_len} values from element {start} of a buffer of {}",
            input.len()
        )));
    }
    let align = ctx.limits().min_storage_buffer_offset_alignment as usize;
    if !(4 * start).is_multiple_of(align) {
        return Err(Error::invalid(format!(
            "a reduction must start on a {align}-byte boundary (element {start} does not)"
        )));
    }
    let too_big = |what: &str, bytes: u64| Error::LimitExceeded {
        what: what.to_string(),
        requested: bytes,
        limit: ctx.max_binding_bytes(),
        limit_name: "max_storage_buffer_binding_size",
        hint: "reduce the input in chunks that each fit one binding",
    };
    if 4 * count as u64 > ctx.max_binding_bytes() {
        return Err(too_big("a reduction input", 4 * count as u64));
    }
    let rows_u32 =
        u32::try_from(rows).map_err(|_| too_big("a reduction's row count", rows as u64))?;
    let max_dim = ctx.limits().max_compute_workgroups_per_dimension;
    let mut n = u32::try_from(row_len).map_err(|_| too_big("a reduction row", row_len as u64))?;
    let mut partials: Option<GpuBuffer<[f32; 2]>> = None;
    loop {
        let groups = n.div_ceil(WG * ITEMS).max(1);
        let last = groups == 1;
        let from_values = partials.is_none();
        let mut defines = vec![op.define()];
        if from_values {
            defines.push("FROM_VALUES");
        }
        if last {
            defines.push("TO_VALUES");
        }
        let overrides = [("WG", f64::from(WG)), ("ITEMS", f64::from(ITEMS))];
        let kernel = ctx.kernel(
            &KernelDesc::new("reduce/reduce")
                .defines(&defines)
                .overrides(&overrides),
        )?;
        let params = GpuBuffer::uniform(
            ctx,
            &Params {
                n,
                groups_per_row: groups,
                rows: rows_u32,
                _pad: 0,
            },
            "morphogen.reduce.params",
        )?;
        let total_groups = u64::from(groups) * rows as u64;
        let grid = Grid::folded(total_groups, max_dim, 1);
        let src = match &partials {
            Some(p) => p.binding(),
            None => input.binding_range(start, count),
        };
        if last {
            let out = GpuBuffer::<f32>::scratch(ctx, rows, "morphogen.reduce.out")?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("params", params.binding()),
                    ("src", src),
                    ("dst", out.binding()),
                ],
            )?;
            rec.dispatch(&kernel, &group, grid);
            rec.keep(params);
            if let Some(p) = partials {
                rec.keep(p);
            }
            return Ok(out);
        }
        let next = GpuBuffer::<[f32; 2]>::scratch(
            ctx,
            total_groups as usize,
            "morphogen.reduce.partials",
        )?;
        let group = kernel.bind_named(
            ctx,
            &[
                ("params", params.binding()),
                ("src", src),
                ("dst", next.binding()),
            ],
        )?;
        rec.dispatch(&kernel, &group, grid);
        rec.keep(params);
        if let Some(p) = partials.replace(next) {
            rec.keep(p);
        }
        n = groups;
    }
}

/// Reduces all of `input` and reads the result back (one submit).
pub fn reduce(ctx: &GpuContext, input: &GpuBuffer<f32>, op: ReduceOp) -> Result<f32> {
    reduce_rows(ctx, input, 1, input.len(), op).map(|v| v[0])
}

/// Reduces each row of `input` and reads the results back (one submit).
pub fn reduce_rows(
    ctx: &GpuContext,
    input: &GpuBuffer<f32>,
    rows: usize,
    row_len: usize,
    op: ReduceOp,
) -> Result<Vec<f32>> {
    let mut rec = ctx.recorder("morphogen.reduce");
    let out = record_reduce(&mut rec, input, rows, row_len, op)?;
    let pending = rec.read(&out)?;
    rec.submit()?;
    pending.wait(ctx)
}

/// CPU f64 twin of the reductions, with the same conventions for empty rows and
/// infinities.
pub fn reduce_cpu(values: &[f32], op: ReduceOp) -> f64 {
    match op {
        ReduceOp::Sum => values.iter().map(|&v| f64::from(v)).sum(),
        ReduceOp::Max => values
            .iter()
            .map(|&v| f64::from(v))
            .fold(f64::NEG_INFINITY, f64::max),
        ReduceOp::LogSumExp => {
            let m = reduce_cpu(values, ReduceOp::Max);
            if !m.is_finite() {
                return m;
            }
            m + values
                .iter()
                .map(|&v| (f64::from(v) - m).exp())
                .sum::<f64>()
                .ln()
        }
    }
}
