//! The adapter's own limits measured by micro-kernels (`shaders/bench/`): exp/s, FMA/s and
//! device-memory bandwidth. Benchmarks report their rates as fractions of these.

use std::time::Duration;

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::KernelDesc;
use crate::gpu::record::Grid;
use crate::gpu::timing::measure;

const WG: u32 = 256;
const EXP_STEPS: u32 = 64;
const EXP_PER_STEP: u32 = 8;
const FMA_STEPS: u32 = 256;
const FMA_PER_STEP: u32 = 16;

/// How long one timed run should last for the clock to resolve it well.
const TARGET: Duration = Duration::from_millis(30);

/// Measured peak rates of an adapter.
#[derive(Clone, Debug)]
pub struct AdapterPeaks {
    /// `exp2` evaluations per second.
    pub exp_per_s: f64,
    /// Fused multiply-adds per second (2 flops each).
    pub fma_per_s: f64,
    /// Bytes per second read plus written by a streaming copy.
    pub bytes_per_s: f64,
    /// Which clock timed the runs.
    pub clock: &'static str,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    a: u32,
    b: u32,
    _pad: [u32; 2],
}

/// Times `shader` over `invocations` threads, growing the launch until a run lasts
/// `TARGET`; returns (invocations, seconds per run).
fn time_compute(
    ctx: &GpuContext,
    shader: &str,
    steps: u32,
    start: u32,
) -> Result<(u64, f64, &'static str)> {
    let overrides = [("WG", f64::from(WG)), ("STEPS", f64::from(steps))];
    let kernel = ctx.kernel(&KernelDesc::new(shader).overrides(&overrides))?;
    let max_dim = ctx.limits().max_compute_workgroups_per_dimension;
    let mut invocations = start;
    loop {
        let params = GpuBuffer::uniform(
            ctx,
            &Params {
                a: invocations,
                b: 0,
                _pad: [0; 2],
            },
            "morphogen.peaks",
        )?;
        let sink = GpuBuffer::<f32>::scratch(ctx, invocations as usize, "morphogen.peaks.sink")?;
        let group = kernel.bind_named(
            ctx,
            &[("params", params.binding()), ("sink", sink.binding())],
        )?;
        let grid = Grid::linear(u64::from(invocations), WG, max_dim);
        let samples = measure(ctx, shader, 1, 5, Duration::ZERO, |rec| {
            rec.dispatch(&kernel, &group, grid);
            Ok(())
        })?;
        let seconds = samples.min().as_secs_f64();
        let max_invocations = (ctx.max_binding_bytes() / 4).min(1 << 26) as u32;
        if seconds >= TARGET.as_secs_f64() || invocations >= max_invocations {
            return Ok((u64::from(invocations), seconds, samples.source));
        }
        let grow = (TARGET.as_secs_f64() / seconds.max(1e-6)).clamp(2.0, 16.0);
        invocations =
            ((f64::from(invocations) * grow) as u64).min(u64::from(max_invocations)) as u32;
    }
}

fn time_copy(ctx: &GpuContext) -> Result<(u64, f64)> {
    let kernel = ctx.kernel(&KernelDesc::new("bench/copy").overrides(&[("WG", f64::from(WG))]))?;
    let max_vec4 = ctx.max_binding_bytes() / 16;
    let mut count: u64 = 1 << 16;
    loop {
        let src = GpuBuffer::<[f32; 4]>::zeroed(ctx, count as usize, "morphogen.peaks.src")?;
        let dst = GpuBuffer::<[f32; 4]>::scratch(ctx, count as usize, "morphogen.peaks.dst")?;
        let groups = (count.div_ceil(u64::from(WG)))
            .min(u64::from(ctx.limits().max_compute_workgroups_per_dimension).min(8192));
        let stride = groups * u64::from(WG);
        let params = GpuBuffer::uniform(
            ctx,
            &Params {
                a: count as u32,
                b: stride as u32,
                _pad: [0; 2],
            },
            "morphogen.peaks",
        )?;
        let group = kernel.bind_named(
            ctx,
            &[
                ("params", params.binding()),
                ("src", src.binding()),
                ("dst", dst.binding()),
            ],
        )?;
        let samples = measure(ctx, "bench/copy", 1, 5, Duration::ZERO, |rec| {
            rec.dispatch(&kernel, &group, Grid::new(groups as u32, 1, 1));
            Ok(())
        })?;
        let seconds = samples.min().as_secs_f64();
        // Stop at the target time, or at 256 MiB, far beyond any cache.
        if seconds >= TARGET.as_secs_f64() || count * 16 >= 256 << 20 || count * 2 > max_vec4 {
            return Ok((count * 16 * 2, seconds));
        }
        count *= 2;
    }
}

/// Measures the adapter's peak exp/s, FMA/s and bandwidth (a second or two).
pub fn measure_peaks(ctx: &GpuContext) -> Result<AdapterPeaks> {
    let (exp_threads, exp_s, clock) = time_compute(ctx, "bench/exp_rate", EXP_STEPS, 1 << 12)?;
    let (fma_threads, fma_s, _) = time_compute(ctx, "bench/fma_rate", FMA_STEPS, 1 << 12)?;
    let (bytes, copy_s) = time_copy(ctx)?;
    Ok(AdapterPeaks {
        exp_per_s: (exp_threads * u64::from(EXP_STEPS * EXP_PER_STEP)) as f64 / exp_s,
        fma_per_s: (fma_threads * u64::from(FMA_STEPS * FMA_PER_STEP)) as f64 / fma_s,
        bytes_per_s: bytes as f64 / copy_s,
        clock,
    })
}
