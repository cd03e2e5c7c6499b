//! Anderson acceleration on the GPU: the history of target potentials and their images,
//! and the three dispatches that extrapolate g (`transport/anderson_gram`,
//! `transport/anderson_weights`, `transport/anderson_mix`). The schedule and the f64 twin
//! are in [`super::anderson`].

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, Grid, Kernel, KernelDesc, Recorder};
use crate::transport::anderson::AndersonSchedule;
use crate::transport::config::Anderson;
use crate::transport::workspace::Workspace;

/// Invocations of the Gram and mix kernels' workgroups.
const WG: u32 = 256;
/// Potentials one Gram workgroup sums (a multiple of `WG`).
const CHUNK_LEN: usize = 8 * WG as usize;
/// `WEIGHT_STRIDE` of `transport/anderson_params.wgsl`.
const WEIGHT_STRIDE: usize = Anderson::MAX_MEMORY + 1;
/// `PAIRS` of `transport/anderson_params.wgsl`.
const PAIRS: usize = Anderson::MAX_MEMORY * (Anderson::MAX_MEMORY + 1) / 2;

/// `AndersonParams` of `transport/anderson_params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    len: u32,
    batch: u32,
    chunks: u32,
    chunk_len: u32,
    ridge: f32,
    _pad: [u32; 3],
}

/// The resident history and kernels of one solve.
pub(crate) struct AndersonGpu {
    schedule: AndersonSchedule,
    /// Floats in one slot (batch × m).
    slot_len: usize,
    batch: usize,
    chunks: usize,
    iterates: GpuBuffer<f32>,
    images: GpuBuffer<f32>,
    gram: Arc<Kernel>,
    weights: Arc<Kernel>,
    mix: Arc<Kernel>,
    gram_group: wgpu::BindGroup,
    weights_group: wgpu::BindGroup,
    /// The mix writes g[parity]: one group per parity.
    mix_groups: [wgpu::BindGroup; 2],
    _buffers: (GpuBuffer<Params>, GpuBuffer<f32>, GpuBuffer<f32>),
}

impl AndersonGpu {
    pub(crate) fn new(ws: &Workspace, schedule: AndersonSchedule) -> Result<Self> {
        let ctx = &ws.ctx;
        let memory = schedule.settings.memory;
        let slot_len = ws.batch * ws.m;
        let history_bytes = 4 * (memory * slot_len) as u64;
        if history_bytes > ctx.max_binding_bytes() {
            return Err(Error::LimitExceeded {
                what: format!("Anderson acceleration's history of {memory} target potentials"),
                requested: history_bytes,
                limit: ctx.max_binding_bytes(),
                limit_name: "max_storage_buffer_binding_size",
                hint: "lower the Anderson memory, or solve without Anderson acceleration",
            });
        }
        let chunks = ws.m.div_ceil(CHUNK_LEN).max(1);
        let params = Params {
            len: ws.m as u32,
            batch: ws.batch as u32,
            chunks: chunks as u32,
            chunk_len: CHUNK_LEN as u32,
            ridge: schedule.settings.ridge,
            _pad: [0; 3],
        };
        let params = GpuBuffer::uniform(ctx, &params, "morphogen.transport.anderson.params")?;
        let iterates = GpuBuffer::zeroed(ctx, memory * slot_len, "morphogen.transport.anderson.x")?;
        let images = GpuBuffer::zeroed(ctx, memory * slot_len, "morphogen.transport.anderson.gx")?;
        let partials = GpuBuffer::zeroed(
            ctx,
            ws.batch * chunks * PAIRS,
            "morphogen.transport.anderson.partials",
        )?;
        let weights_buf = GpuBuffer::zeroed(
            ctx,
            ws.batch * WEIGHT_STRIDE,
            "morphogen.transport.anderson.weights",
        )?;
        let kernel = |name: &str, wg: u32| {
            ctx.kernel(
                &KernelDesc::new(name)
                    .overrides(&[("WG", f64::from(wg)), ("MEMORY", memory as f64)]),
            )
        };
        let gram = kernel("transport/anderson_gram", WG)?;
        let weights = kernel("transport/anderson_weights", 64)?;
        let mix = kernel("transport/anderson_mix", WG)?;
        let gram_group = gram.bind_named(
            ctx,
            &[
                ("params", params.binding()),
                ("iterates", iterates.binding()),
                ("images", images.binding()),
                ("partials", partials.binding()),
            ],
        )?;
        let weights_group = weights.bind_named(
            ctx,
            &[
                ("params", params.binding()),
                ("partials", partials.binding()),
                ("weights", weights_buf.binding()),
            ],
        )?;
        let mix_group = |parity: usize| {
            mix.bind_named(
                ctx,
                &[
                    ("params", params.binding()),
                    ("images", images.binding()),
                    ("weights", weights_buf.binding()),
                    ("potential", ws.g[parity].binding()),
                ],
            )
        };
        let mix_groups = [mix_group(0)?, mix_group(1)?];
        Ok(Self {
            schedule,
            slot_len,
            batch: ws.batch,
            chunks,
            iterates,
            images,
            gram,
            weights,
            mix,
            gram_group,
            weights_group,
            mix_groups,
            _buffers: (params, partials, weights_buf),
        })
    }

    /// Copies the current g into `slot` of `history`.
    fn record_slot(
        &self,
        rec: &mut Recorder<'_>,
        ws: &Workspace,
        history: &GpuBuffer<f32>,
        slot: usize,
    ) {
        let bytes = 4 * self.slot_len as u64;
        rec.encoder().copy_buffer_to_buffer(
            ws.g[ws.parity].raw(),
            0,
            history.raw(),
            slot as u64 * bytes,
            bytes,
        );
    }

    /// Before iteration `t`: extrapolates g when due, then records it as an iterate.
    pub(crate) fn before(&self, rec: &mut Recorder<'_>, ws: &Workspace, t: usize) {
        if self.schedule.extrapolates(t) {
            let max_dim = ws.ctx.limits().max_compute_workgroups_per_dimension;
            rec.dispatch(
                &self.gram,
                &self.gram_group,
                Grid::new(self.chunks as u32, self.batch as u32, 1),
            );
            rec.dispatch(
                &self.weights,
                &self.weights_group,
                Grid::new(self.batch as u32, 1, 1),
            );
            rec.dispatch(
                &self.mix,
                &self.mix_groups[ws.parity],
                Grid::linear(self.slot_len as u64, WG, max_dim),
            );
        }
        if self.schedule.records(t) {
            self.record_slot(rec, ws, &self.iterates, self.schedule.slot(t));
        }
    }

    /// After iteration `t`: records g as the image of the iterate.
    pub(crate) fn after(&self, rec: &mut Recorder<'_>, ws: &Workspace, t: usize) {
        if self.schedule.records(t) {
            self.record_slot(rec, ws, &self.images, self.schedule.slot(t));
        }
    }
}
