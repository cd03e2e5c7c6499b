//! GPU busy time over a context's life: a pair of timestamps around every recording, read
//! back in batches. Enabled by [`crate::gpu::ContextOptions::gpu_time`] on devices with
//! timestamp queries; read with [`GpuContext::gpu_seconds`].

use std::sync::Mutex;

use crate::error::Result;
use crate::gpu::buffer::{BufferKind, GpuBuffer, Pending};
use crate::gpu::context::GpuContext;
use crate::gpu::timing::stamp;

/// Recordings timed between two readbacks.
const PAIRS: u32 = 2048;

#[derive(Default)]
struct State {
    /// Pairs handed out since the last readback.
    next: u32,
    /// Recordings holding a pair and not yet submitted or dropped.
    open: u32,
    /// Which handed-out pairs were submitted (a dropped recording never writes its end).
    submitted: Vec<bool>,
    total_ns: f64,
}

pub(crate) struct Ledger {
    set: wgpu::QuerySet,
    state: Mutex<State>,
}

/// A recording's pair of timestamps, returned to the ledger when dropped.
pub(crate) struct Slot {
    ctx: GpuContext,
    index: u32,
}

impl Ledger {
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        Self {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("morphogen.ledger"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * PAIRS,
            }),
            state: Mutex::new(State::default()),
        }
    }

    /// Hands a recording its pair and writes the start, or `None` when every pair is taken
    /// and a recording still holds one (that recording then goes untimed).
    pub(crate) fn open(ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder) -> Option<Slot> {
        let ledger = ctx.inner.ledger.as_ref()?;
        let mut state = ledger.state.lock().ok()?;
        if state.next == PAIRS {
            if state.open > 0 {
                return None;
            }
            ledger.read_back(ctx, &mut state).ok()?;
        }
        let index = state.next;
        state.next += 1;
        state.open += 1;
        state.submitted.push(false);
        stamp(encoder, &ledger.set, 2 * index);
        Some(Slot {
            ctx: ctx.clone(),
            index,
        })
    }

    /// Adds up the submitted pairs and frees them all (no recording may hold one).
    fn read_back(&self, ctx: &GpuContext, state: &mut State) -> Result<()> {
        let used = state.next;
        if used == 0 {
            return Ok(());
        }
        let (resolve, _) = GpuBuffer::<u64>::allocate(
            ctx,
            2 * used as usize,
            BufferKind::QueryResolve,
            "morphogen.ledger",
        )?;
        let mut encoder = ctx
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("morphogen.ledger"),
            });
        encoder.resolve_query_set(&self.set, 0..2 * used, resolve.raw(), 0);
        let pending = Pending::record(ctx, &mut encoder, &resolve)?;
        ctx.queue().submit([encoder.finish()]);
        let stamps = pending.wait(ctx)?;
        let period = f64::from(ctx.queue().get_timestamp_period());
        for (pair, &submitted) in stamps.chunks(2).zip(&state.submitted) {
            if submitted && pair[1] > pair[0] {
                state.total_ns += (pair[1] - pair[0]) as f64 * period;
            }
        }
        state.next = 0;
        state.submitted.clear();
        Ok(())
    }

    /// Seconds of GPU work recorded so far (pairs still held by open recordings are added
    /// at a later call).
    pub(crate) fn seconds(&self, ctx: &GpuContext) -> Result<f64> {
        let mut state = self.state.lock().map_err(|_| crate::error::Error::Gpu {
            context: "GPU time".into(),
            message: "the time ledger was poisoned by a panic".into(),
        })?;
        if state.open == 0 {
            self.read_back(ctx, &mut state)?;
        }
        Ok(state.total_ns * 1e-9)
    }
}

impl Slot {
    /// Writes the end of the recording's pair; call just before it is submitted.
    pub(crate) fn close(&self, encoder: &mut wgpu::CommandEncoder) {
        if let Some(ledger) = &self.ctx.inner.ledger {
            stamp(encoder, &ledger.set, 2 * self.index + 1);
        }
    }

    /// Marks the pair as submitted.
    pub(crate) fn submitted(&self) {
        if let Some(ledger) = &self.ctx.inner.ledger {
            if let Ok(mut state) = ledger.state.lock() {
                if let Some(s) = state.submitted.get_mut(self.index as usize) {
                    *s = true;
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ledger) = &self.ctx.inner.ledger {
            if let Ok(mut state) = ledger.state.lock() {
                state.open = state.open.saturating_sub(1);
            }
        }
    }
}
