//! Recording many dispatches into one command encoder and submitting them at once.

use std::time::Duration;

use web_time::Instant;

use bytemuck::Pod;

use crate::error::Result;
use crate::gpu::buffer::{GpuBuffer, Pending};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::Kernel;
use crate::gpu::ledger::{Ledger, Slot};
use crate::gpu::timing::{GpuTimer, PassProfile, Timing};

/// Workgroup counts of one dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Workgroups along x, y, z.
    pub groups: [u32; 3],
}

impl Grid {
    /// Exactly these workgroup counts.
    pub const fn new(x: u32, y: u32, z: u32) -> Self {
        Self { groups: [x, y, z] }
    }

    /// Enough workgroups of `workgroup_size` invocations to cover `items`, folded into
    /// x and y when there are more than `max_per_dim` (65535 on most devices).
    ///
    /// Shaders recover the linear workgroup index with `linear_workgroup` from
    /// `common/grid.wgsl` and must bounds-check: the fold may add a few idle workgroups.
    pub fn linear(items: u64, workgroup_size: u32, max_per_dim: u32) -> Self {
        let groups = items.div_ceil(u64::from(workgroup_size)).max(1);
        Self::folded(groups, max_per_dim, 1)
    }

    /// `groups` workgroups folded into x and y, times `z` along z.
    pub fn folded(groups: u64, max_per_dim: u32, z: u32) -> Self {
        let max = u64::from(max_per_dim.max(1));
        let y = groups.div_ceil(max).max(1);
        let x = groups.div_ceil(y).max(1);
        Self::new(x as u32, y as u32, z)
    }

    /// Total number of workgroups.
    pub fn total(&self) -> u64 {
        self.groups.iter().map(|&g| u64::from(g)).product()
    }
}

/// Records dispatches, copies and readbacks into one command encoder; [`Recorder::submit`]
/// sends them in one submission.
///
/// `queue.write_buffer` calls land before the whole submission, so a parameter that must
/// change between dispatches of one recording needs its own buffer. Buffers a recording
/// uses but does not own can be handed to [`Recorder::keep`] so they live until it is
/// submitted.
pub struct Recorder<'a> {
    ctx: &'a GpuContext,
    encoder: wgpu::CommandEncoder,
    kept: Vec<Box<dyn std::any::Any>>,
    timer: Option<GpuTimer>,
    profile: Option<PassProfile>,
    slot: Option<Slot>,
    dispatches: u32,
}

impl GpuContext {
    /// Starts a recording labelled `label`.
    pub fn recorder(&self, label: &str) -> Recorder<'_> {
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        let slot = Ledger::open(self, &mut encoder);
        Recorder {
            ctx: self,
            encoder,
            kept: Vec::new(),
            timer: None,
            profile: None,
            slot,
            dispatches: 0,
        }
    }

    /// Starts a recording whose GPU time is measured (timestamp queries where the device
    /// has them, else the wall clock around submit and wait).
    pub fn timed_recorder(&self, label: &str) -> Result<Recorder<'_>> {
        let mut recorder = self.recorder(label);
        let mut timer = GpuTimer::new(self)?;
        timer.begin(&mut recorder.encoder);
        recorder.timer = Some(timer);
        Ok(recorder)
    }

    /// A timed recording that also times each of its first `passes` compute passes, so
    /// that [`Timing::kernels`] (the passes' own time) can be set against the whole
    /// recording's (the rest is the time between passes: dispatch overhead). Without
    /// timestamp queries it is a [`GpuContext::timed_recorder`].
    pub fn profiled_recorder(&self, label: &str, passes: u32) -> Result<Recorder<'_>> {
        let mut recorder = self.timed_recorder(label)?;
        recorder.profile = PassProfile::new(self, passes)?;
        Ok(recorder)
    }
}

impl<'a> Recorder<'a> {
    /// Records one dispatch of `kernel` with `bind_group`.
    pub fn dispatch(&mut self, kernel: &Kernel, bind_group: &wgpu::BindGroup, grid: Grid) {
        self.dispatch_at(kernel, bind_group, &[], grid);
    }

    /// Records one dispatch with the dynamic offsets (in bytes, multiples of 256) of the
    /// kernel's dynamic-offset bindings ([`crate::gpu::KernelDesc::dynamic`]), in binding order.
    pub fn dispatch_at(
        &mut self,
        kernel: &Kernel,
        bind_group: &wgpu::BindGroup,
        offsets: &[u32],
        grid: Grid,
    ) {
        let timestamp_writes = self.profile.as_mut().and_then(|p| p.next(kernel.label()));
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(kernel.label()),
                timestamp_writes,
            });
        pass.set_pipeline(kernel.pipeline());
        pass.set_bind_group(0, bind_group, offsets);
        let [x, y, z] = grid.groups;
        pass.dispatch_workgroups(x, y, z);
        self.dispatches += 1;
    }

    /// Records one dispatch whose workgroup counts a kernel wrote into `args` (three u32
    /// at element `at`), with dynamic offsets as in [`Recorder::dispatch_at`].
    pub fn dispatch_indirect(
        &mut self,
        kernel: &Kernel,
        bind_group: &wgpu::BindGroup,
        offsets: &[u32],
        args: &GpuBuffer<u32>,
        at: usize,
    ) {
        let timestamp_writes = self.profile.as_mut().and_then(|p| p.next(kernel.label()));
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(kernel.label()),
                timestamp_writes,
            });
        pass.set_pipeline(kernel.pipeline());
        pass.set_bind_group(0, bind_group, offsets);
        pass.dispatch_workgroups_indirect(args.raw(), (at * 4) as u64);
        self.dispatches += 1;
    }

    /// Records a copy of all of `src` into the start of `dst`.
    pub fn copy<T: Pod>(&mut self, src: &GpuBuffer<T>, dst: &GpuBuffer<T>) {
        let bytes = src.byte_size().min(dst.byte_size());
        let bytes = bytes - bytes % wgpu::COPY_BUFFER_ALIGNMENT;
        if bytes > 0 {
            self.encoder
                .copy_buffer_to_buffer(src.raw(), 0, dst.raw(), 0, bytes);
        }
    }

    /// Records zeroing `buffer`.
    pub fn clear<T: Pod>(&mut self, buffer: &GpuBuffer<T>) {
        self.encoder.clear_buffer(buffer.raw(), 0, None);
    }

    /// Records a readback of `buffer`; its values come from [`Pending::wait`] after submit.
    pub fn read<T: Pod>(&mut self, buffer: &GpuBuffer<T>) -> Result<Pending<T>> {
        Pending::record(self.ctx, &mut self.encoder, buffer)
    }

    /// Records a readback of elements `start..start + len` of `buffer`.
    pub fn read_range<T: Pod>(
        &mut self,
        buffer: &GpuBuffer<T>,
        start: usize,
        len: usize,
    ) -> Result<Pending<T>> {
        Pending::record_range(self.ctx, &mut self.encoder, buffer, start, len)
    }

    /// Keeps `value` (typically a temporary buffer) alive until the recording is submitted.
    pub fn keep<T: 'static>(&mut self, value: T) {
        self.kept.push(Box::new(value));
    }

    /// Number of dispatches recorded so far.
    pub fn dispatch_count(&self) -> u32 {
        self.dispatches
    }

    /// The raw encoder, for commands this type does not wrap.
    pub fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        &mut self.encoder
    }

    /// The context this recording belongs to.
    pub fn context(&self) -> &'a GpuContext {
        self.ctx
    }

    /// Submits everything recorded in one submission.
    pub fn submit(mut self) -> Result<Submitted> {
        // The timer and the profile own the buffers their queries resolve into: they stay
        // alive, with the recording's other temporaries, until the submit.
        let timer = match self.timer.take() {
            Some(mut timer) => {
                timer.end(&mut self.encoder);
                let pending = timer.read(self.ctx, &mut self.encoder)?;
                self.kept.push(Box::new(timer));
                pending
            }
            None => None,
        };
        let profile = match self.profile.take() {
            Some(mut profile) => {
                let pending = profile.read(self.ctx, &mut self.encoder)?;
                let (used, labels) = (profile.used, std::mem::take(&mut profile.labels));
                self.kept.push(Box::new(profile));
                pending.map(|pending| (pending, used, labels))
            }
            None => None,
        };
        let slot = self.slot.take();
        if let Some(slot) = &slot {
            slot.close(&mut self.encoder);
        }
        let started = Instant::now();
        self.ctx.queue().submit([self.encoder.finish()]);
        if let Some(slot) = slot {
            slot.submitted();
        }
        drop(self.kept);
        Ok(Submitted {
            started,
            timer,
            profile,
        })
    }
}

/// A submitted recording.
pub struct Submitted {
    started: Instant,
    timer: Option<Pending<u64>>,
    profile: Option<(Pending<u64>, u32, Vec<String>)>,
}

impl Submitted {
    /// Waits for the GPU to finish and reports how long the work took. (In the browser
    /// use [`Submitted::wait_async`].)
    pub fn wait(self, ctx: &GpuContext) -> Result<Timing> {
        pollster::block_on(self.wait_async(ctx))
    }

    /// Waits without blocking the thread (the browser's form).
    pub async fn wait_async(self, ctx: &GpuContext) -> Result<Timing> {
        Ok(self.wait_passes_async(ctx).await?.0)
    }

    /// [`Submitted::wait`], with each timed pass of a profiled recording
    /// ([`GpuContext::profiled_recorder`]) as its kernel's label and its duration, in
    /// order (empty without timestamp queries).
    pub fn wait_passes(self, ctx: &GpuContext) -> Result<(Timing, Vec<(String, Duration)>)> {
        pollster::block_on(self.wait_passes_async(ctx))
    }

    async fn wait_passes_async(
        self,
        ctx: &GpuContext,
    ) -> Result<(Timing, Vec<(String, Duration)>)> {
        #[cfg(not(target_arch = "wasm32"))]
        ctx.wait_idle()?;
        #[cfg(target_arch = "wasm32")]
        {
            let (sender, receiver) = futures::channel::oneshot::channel();
            ctx.queue().on_submitted_work_done(move || {
                let _ = sender.send(());
            });
            let _ = receiver.await;
            ctx.check_errors("waiting for the GPU")?;
        }
        let wall = self.started.elapsed();
        let gpu = match self.timer {
            Some(pending) => GpuTimer::elapsed(ctx, &pending.wait_async(ctx).await?),
            None => None,
        };
        let passes: Vec<(String, Duration)> = match self.profile {
            Some((pending, used, labels)) => {
                let stamps = pending.wait_async(ctx).await?;
                labels
                    .into_iter()
                    .zip(PassProfile::durations(ctx, &stamps, used))
                    .collect()
            }
            None => Vec::new(),
        };
        let kernels = (!passes.is_empty()).then(|| passes.iter().map(|(_, d)| *d).sum());
        Ok((Timing { wall, gpu, kernels }, passes))
    }
}

#[cfg(test)]
mod tests {
    use super::Grid;

    #[test]
    fn linear_grids_cover_every_item_within_the_per_dimension_limit() {
        for (items, wg, max) in [
            (0u64, 64u32, 65535u32),
            (1, 64, 65535),
            (1000, 256, 65535),
            (65535 * 256 + 1, 256, 65535),
            (10_000_000_000, 256, 65535),
            (1000, 1, 40),
        ] {
            let g = Grid::linear(items, wg, max);
            assert!(g.groups[0] <= max && g.groups[1] <= max, "{items}: {g:?}");
            assert!(g.total() * u64::from(wg) >= items, "{items}: {g:?}");
            // At most one extra row of workgroups.
            assert!(g.total() < items.div_ceil(u64::from(wg)).max(1) + u64::from(g.groups[0]));
        }
    }
}
