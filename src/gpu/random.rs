//! Filling GPU buffers with counter-based random streams (`shaders/rng/fill.wgsl`).

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::kernels::KernelDesc;
use crate::gpu::record::{Grid, Recorder};

const WG: u32 = 64;

/// What a random fill draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// Raw 32-bit words (read the buffer as `u32`).
    Bits,
    /// Uniform floats in (0, 1) (read as `f32`).
    Uniform,
    /// Standard normal floats (read as `f32`).
    Normal,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    stream: u32,
}

/// Records filling `dst` with element i = lane i % 4 of Philox block (i / 4, stream, 0, 0)
/// under `seed`: the same values as [`crate::rng`] computes on the CPU.
pub fn record_fill<T: Pod>(
    rec: &mut Recorder<'_>,
    dst: &GpuBuffer<T>,
    seed: u64,
    stream: u32,
    draw: Draw,
) -> Result<()> {
    if std::mem::size_of::<T>() != 4 {
        return Err(Error::invalid(
            "random fills write 32-bit elements (u32 or f32)",
        ));
    }
    let n = u32::try_from(dst.len())
        .map_err(|_| Error::invalid("a random fill covers at most 2^32 - 1 elements"))?;
    let ctx = rec.context();
    let define = match draw {
        Draw::Bits => "RAW",
        Draw::Uniform => "UNIFORM",
        Draw::Normal => "NORMAL",
    };
    let kernel = ctx.kernel(
        &KernelDesc::new("rng/fill")
            .defines(&[define])
            .overrides(&[("WG", f64::from(WG))]),
    )?;
    let [seed_lo, seed_hi] = crate::rng::seed_key(seed);
    let params = GpuBuffer::uniform(
        ctx,
        &Params {
            n,
            seed_lo,
            seed_hi,
            stream,
        },
        "morphogen.rng.params",
    )?;
    let group = kernel.bind_named(ctx, &[("params", params.binding()), ("dst", dst.binding())])?;
    let blocks = u64::from(n).div_ceil(4);
    rec.dispatch(
        &kernel,
        &group,
        Grid::linear(
            blocks,
            WG,
            ctx.limits().max_compute_workgroups_per_dimension,
        ),
    );
    rec.keep(params);
    Ok(())
}
