//! Timing GPU work: timestamp queries where the device has them, the wall clock otherwise.

use std::time::Duration;

use web_time::Instant;

use crate::error::Result;
use crate::gpu::buffer::{BufferKind, GpuBuffer, Pending};
use crate::gpu::context::GpuContext;
use crate::gpu::record::Recorder;

/// How long a submission took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// From submit until the host saw the work finish (includes submission latency).
    pub wall: Duration,
    /// Between timestamps written at the start and end of the recording, when the device
    /// supports timestamp queries.
    pub gpu: Option<Duration>,
    /// A profiled recording ([`crate::gpu::GpuContext::profiled_recorder`]): the sum of
    /// its compute passes' own durations, each between timestamps at the start and the
    /// end of the pass. What `gpu` holds beyond it is the time between passes.
    pub kernels: Option<Duration>,
}

impl Timing {
    /// The GPU time when measured, else the wall time.
    pub fn best(&self) -> Duration {
        self.gpu.unwrap_or(self.wall)
    }

    /// Which clock [`Timing::best`] read.
    pub fn source(&self) -> &'static str {
        if self.gpu.is_some() {
            "gpu timestamps"
        } else {
            "wall clock"
        }
    }
}

/// Writes timestamp `index` of `set`: an even index at the start of an empty pass, an odd
/// one at its end (writes inside encoders are an extra feature, passes are not).
pub(crate) fn stamp(encoder: &mut wgpu::CommandEncoder, set: &wgpu::QuerySet, index: u32) {
    let begin = index.is_multiple_of(2);
    encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("morphogen.timer"),
        timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
            query_set: set,
            beginning_of_pass_write_index: begin.then_some(index),
            end_of_pass_write_index: (!begin).then_some(index),
        }),
    });
}

/// Two timestamps around a recording.
pub(crate) struct GpuTimer {
    queries: Option<(wgpu::QuerySet, GpuBuffer<u64>)>,
}

impl GpuTimer {
    pub(crate) fn new(ctx: &GpuContext) -> Result<Self> {
        if !ctx.has_timestamps() {
            return Ok(Self { queries: None });
        }
        let set = ctx.device().create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("morphogen.timer"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let (resolve, _) =
            GpuBuffer::<u64>::allocate(ctx, 2, BufferKind::QueryResolve, "morphogen.timer")?;
        Ok(Self {
            queries: Some((set, resolve)),
        })
    }

    fn mark(&self, encoder: &mut wgpu::CommandEncoder, begin: bool) {
        if let Some((set, _)) = &self.queries {
            stamp(encoder, set, u32::from(!begin));
        }
    }

    pub(crate) fn begin(&mut self, encoder: &mut wgpu::CommandEncoder) {
        self.mark(encoder, true);
    }

    pub(crate) fn end(&mut self, encoder: &mut wgpu::CommandEncoder) {
        self.mark(encoder, false);
    }

    /// Records resolving the timestamps; `None` without timestamp support.
    pub(crate) fn read(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Result<Option<Pending<u64>>> {
        let Some((set, resolve)) = &self.queries else {
            return Ok(None);
        };
        encoder.resolve_query_set(set, 0..2, resolve.raw(), 0);
        Pending::record(ctx, encoder, resolve).map(Some)
    }

    pub(crate) fn elapsed(ctx: &GpuContext, stamps: &[u64]) -> Option<Duration> {
        let (&start, &end) = (stamps.first()?, stamps.get(1)?);
        if end <= start {
            return None;
        }
        let period = f64::from(ctx.queue().get_timestamp_period());
        Some(Duration::from_secs_f64(
            (end - start) as f64 * period * 1e-9,
        ))
    }
}

/// Timestamps at the start and end of every compute pass of a recording, up to a capacity.
pub(crate) struct PassProfile {
    set: wgpu::QuerySet,
    resolve: GpuBuffer<u64>,
    capacity: u32,
    pub(crate) used: u32,
    /// The label of each timed pass.
    pub(crate) labels: Vec<String>,
}

impl PassProfile {
    pub(crate) fn new(ctx: &GpuContext, passes: u32) -> Result<Option<Self>> {
        if !ctx.has_timestamps() || passes == 0 {
            return Ok(None);
        }
        let count = (2 * passes).min(wgpu::QUERY_SET_MAX_QUERIES);
        let set = ctx.device().create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("morphogen.passes"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let (resolve, _) = GpuBuffer::<u64>::allocate(
            ctx,
            count as usize,
            BufferKind::QueryResolve,
            "morphogen.passes",
        )?;
        Ok(Some(Self {
            set,
            resolve,
            capacity: count / 2,
            used: 0,
            labels: Vec::new(),
        }))
    }

    /// The timestamp writes of the next pass (named `label`), while there is room for them.
    pub(crate) fn next(&mut self, label: &str) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.used >= self.capacity {
            return None;
        }
        let k = self.used;
        self.used += 1;
        self.labels.push(label.to_string());
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * k),
            end_of_pass_write_index: Some(2 * k + 1),
        })
    }

    pub(crate) fn read(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Result<Option<Pending<u64>>> {
        if self.used == 0 {
            return Ok(None);
        }
        encoder.resolve_query_set(&self.set, 0..2 * self.used, self.resolve.raw(), 0);
        Pending::record(ctx, encoder, &self.resolve).map(Some)
    }

    /// Each pass's duration from the resolved timestamps.
    pub(crate) fn durations(ctx: &GpuContext, stamps: &[u64], passes: u32) -> Vec<Duration> {
        let period = f64::from(ctx.queue().get_timestamp_period());
        stamps
            .chunks_exact(2)
            .take(passes as usize)
            .map(|p| Duration::from_secs_f64(p[1].saturating_sub(p[0]) as f64 * period * 1e-9))
            .collect()
    }
}

/// Repeated timings of one piece of recorded work.
#[derive(Clone, Debug)]
pub struct Samples {
    /// Each timed repetition, in order.
    pub times: Vec<Duration>,
    /// The clock used.
    pub source: &'static str,
}

impl Samples {
    /// The median time.
    pub fn median(&self) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// The fastest time.
    pub fn min(&self) -> Duration {
        self.times.iter().min().copied().unwrap_or_default()
    }
}

/// Runs `record` `warmup` times untimed, then `reps` times timed, one submission each.
/// Keeps repeating (up to `reps * 4`) while the total time is under `min_total`.
pub fn measure(
    ctx: &GpuContext,
    label: &str,
    warmup: usize,
    reps: usize,
    min_total: Duration,
    mut record: impl FnMut(&mut Recorder<'_>) -> Result<()>,
) -> Result<Samples> {
    for _ in 0..warmup {
        let mut rec = ctx.recorder(label);
        record(&mut rec)?;
        rec.submit()?.wait(ctx)?;
    }
    let mut times = Vec::new();
    let mut source = "wall clock";
    let start = Instant::now();
    while times.len() < reps || (start.elapsed() < min_total && times.len() < reps * 4) {
        let mut rec = ctx.timed_recorder(label)?;
        record(&mut rec)?;
        let timing = rec.submit()?.wait(ctx)?;
        source = timing.source();
        times.push(timing.best());
    }
    Ok(Samples { times, source })
}

/// Where the time of some recorded steps went (an engine's `profile_steps`).
#[derive(Clone, Debug, PartialEq)]
pub struct StepProfile {
    /// Steps recorded.
    pub steps: usize,
    /// Compute dispatches per step (indirect ones included).
    pub dispatches_per_step: f64,
    /// From submit until the host saw the work finish.
    pub wall_seconds: f64,
    /// The recording's time on the GPU, where timestamps are supported.
    pub gpu_seconds: Option<f64>,
    /// The passes' own time on the GPU; the rest of `gpu_seconds` is spent between
    /// dispatches.
    pub kernel_seconds: Option<f64>,
    /// Each kernel's GPU seconds over the steps, the slowest first (empty without
    /// timestamp queries).
    pub by_kernel: Vec<(String, f64)>,
}

impl StepProfile {
    /// The profile of `steps` steps of `dispatches` dispatches in all, from a profiled
    /// recording's timing and its passes ([`crate::gpu::Submitted::wait_passes`]).
    pub fn of(
        steps: usize,
        dispatches: u32,
        timing: &Timing,
        passes: Vec<(String, Duration)>,
    ) -> Self {
        let mut by_kernel: Vec<(String, f64)> = Vec::new();
        for (label, d) in passes {
            match by_kernel.iter_mut().find(|(l, _)| *l == label) {
                Some((_, total)) => *total += d.as_secs_f64(),
                None => by_kernel.push((label, d.as_secs_f64())),
            }
        }
        by_kernel.sort_by(|a, b| b.1.total_cmp(&a.1));
        Self {
            steps,
            dispatches_per_step: f64::from(dispatches) / steps.max(1) as f64,
            wall_seconds: timing.wall.as_secs_f64(),
            gpu_seconds: timing.gpu.map(|d| d.as_secs_f64()),
            kernel_seconds: timing.kernels.map(|d| d.as_secs_f64()),
            by_kernel,
        }
    }

    /// The fraction of the GPU's time spent between dispatches, where measured.
    pub fn overhead_fraction(&self) -> Option<f64> {
        match (self.gpu_seconds, self.kernel_seconds) {
            (Some(g), Some(k)) if g > 0.0 => Some((1.0 - k / g).max(0.0)),
            _ => None,
        }
    }
}
