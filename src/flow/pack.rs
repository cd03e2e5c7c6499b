//! Networks' parameters as the flow kernels read them, shared by the ODE and SDE
//! drivers: each network's layers one after another (W row-major [out, in], then b), the
//! order the generated network code (`network_kernel`) reads at offsets fixed by the
//! shape; and how time enters a network.

use crate::error::Result;
use crate::flow::codes;
use crate::flow::model::{TimeInput, VelocityField};
use crate::gpu::{GpuBuffer, GpuContext};

/// Floats of a uniform weight block (`array<vec4<f32>, 4096>` in the kernels).
const UNIFORM_FLOATS: usize = 16384;

/// The parameters of one or more networks in one array.
pub(crate) struct PackedWeights {
    pub weights: Vec<f32>,
}

impl PackedWeights {
    /// Packs `fields` one after another; returns the array and each field's offset in it.
    pub(crate) fn pack(fields: &[&VelocityField]) -> (Self, Vec<u32>) {
        let mut weights = Vec::new();
        let mut offsets = Vec::with_capacity(fields.len());
        for field in fields {
            offsets.push(weights.len() as u32);
            for layer in &field.layers {
                weights.extend_from_slice(&layer.weight);
                weights.extend_from_slice(&layer.bias);
            }
        }
        (Self { weights }, offsets)
    }

    /// Whether the weights fit the kernels' uniform block on this device (the
    /// `WEIGHTS_UNIFORM` variant); else they are read from a storage buffer.
    pub(crate) fn uniform(&self, ctx: &GpuContext) -> bool {
        self.weights.len() <= UNIFORM_FLOATS
            && ctx.limits().max_uniform_buffer_binding_size >= (UNIFORM_FLOATS * 4) as u64
    }

    /// The weights on the GPU (padded to the uniform block when they fit it).
    pub(crate) fn upload(&self, ctx: &GpuContext, label: &str) -> Result<GpuBuffer<f32>> {
        if self.uniform(ctx) {
            let mut padded = self.weights.clone();
            padded.resize(UNIFORM_FLOATS, 0.0);
            GpuBuffer::uniform_slice(ctx, &padded, &format!("{label}.weights"))
        } else {
            GpuBuffer::from_slice(ctx, &self.weights, &format!("{label}.weights"))
        }
    }
}

/// How t enters a network, as the kernels' InputLayout codes it: (position: 0 last,
/// 1 first, 2 none; embedding width, 0 for raw t; embedding period).
pub(crate) fn time_input(field: &VelocityField) -> (u32, u32, f32) {
    let position = match field.time {
        TimeInput::Last => codes::TIME_LAST,
        TimeInput::First => codes::TIME_FIRST,
        TimeInput::None => codes::TIME_NONE,
    };
    let (width, period) = field
        .time_embedding
        .map_or((0, 1.0), |(k, p)| (k as u32, p));
    (position, width, period)
}
