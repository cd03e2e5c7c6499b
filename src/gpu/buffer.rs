//! Typed buffers that live on the GPU, and their readback.

use std::marker::PhantomData;
use std::sync::Arc;

use bytemuck::Pod;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
pub(crate) use crate::gpu::pool::BufferPool;
use crate::gpu::pool::PoolShared;

/// What a buffer is bound as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// A storage buffer (read or read-write in shaders); can be copied to and from.
    Storage,
    /// A uniform buffer of small parameters.
    Uniform,
    /// The destination of timestamp-query resolves.
    QueryResolve,
    /// A storage buffer that also holds indirect dispatch arguments.
    Indirect,
}

impl BufferKind {
    fn usage(self) -> wgpu::BufferUsages {
        match self {
            Self::Storage => {
                wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST
            }
            Self::Uniform => wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            Self::QueryResolve => wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            Self::Indirect => {
                wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::INDIRECT
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST
            }
        }
    }
}

/// Byte length padded to the 4-byte copy alignment.
fn padded(bytes: u64) -> u64 {
    bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT)
}

/// `len` elements of `T` resident on the GPU. The storage comes from the context's pool
/// and goes back to it when the buffer is dropped.
pub struct GpuBuffer<T: Pod> {
    raw: Option<wgpu::Buffer>,
    len: usize,
    kind: BufferKind,
    pool: Arc<PoolShared>,
    _elem: PhantomData<T>,
}

impl<T: Pod> std::fmt::Debug for GpuBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuBuffer")
            .field("len", &self.len)
            .field("kind", &self.kind)
            .field("elem", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T: Pod> Drop for GpuBuffer<T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            self.pool.release(raw);
        }
    }
}

impl<T: Pod> GpuBuffer<T> {
    fn byte_len(len: usize) -> u64 {
        (len as u64) * std::mem::size_of::<T>() as u64
    }

    pub(crate) fn allocate(
        ctx: &GpuContext,
        len: usize,
        kind: BufferKind,
        label: &str,
    ) -> Result<(Self, bool)> {
        let bytes = Self::byte_len(len);
        if kind == BufferKind::Storage && bytes > ctx.max_binding_bytes() {
            log::debug!("buffer {label:?} of {bytes} bytes exceeds one binding; callers must bind it in chunks");
        }
        let acquired = ctx.inner.pool.acquire(
            &ctx.inner.device,
            &ctx.inner.limits,
            kind.usage(),
            padded(bytes),
            label,
        )?;
        Ok((
            Self {
                raw: Some(acquired.buffer),
                len,
                kind,
                pool: Arc::clone(&ctx.inner.pool.shared),
                _elem: PhantomData,
            },
            acquired.fresh,
        ))
    }

    /// A storage buffer holding a copy of `data`.
    pub fn from_slice(ctx: &GpuContext, data: &[T], label: &str) -> Result<Self> {
        Self::from_slice_as(ctx, data, BufferKind::Storage, label)
    }

    /// A uniform buffer holding `value`.
    pub fn uniform(ctx: &GpuContext, value: &T, label: &str) -> Result<Self> {
        Self::from_slice_as(ctx, std::slice::from_ref(value), BufferKind::Uniform, label)
    }

    /// A uniform buffer holding `data` (e.g. one 256-byte block per dispatch, bound with
    /// dynamic offsets).
    pub fn uniform_slice(ctx: &GpuContext, data: &[T], label: &str) -> Result<Self> {
        Self::from_slice_as(ctx, data, BufferKind::Uniform, label)
    }

    fn from_slice_as(ctx: &GpuContext, data: &[T], kind: BufferKind, label: &str) -> Result<Self> {
        let (buffer, _) = Self::allocate(ctx, data.len(), kind, label)?;
        buffer.write(ctx, data)?;
        Ok(buffer)
    }

    /// A storage buffer of `len` zeros that kernels can also fill with indirect dispatch
    /// arguments for [`crate::gpu::Recorder::dispatch_indirect`].
    pub fn indirect(ctx: &GpuContext, len: usize, label: &str) -> Result<Self> {
        let zeros = vec![<T as bytemuck::Zeroable>::zeroed(); len];
        Self::from_slice_as(ctx, &zeros, BufferKind::Indirect, label)
    }

    /// A storage buffer of `len` zeros.
    pub fn zeroed(ctx: &GpuContext, len: usize, label: &str) -> Result<Self> {
        let (buffer, fresh) = Self::allocate(ctx, len, BufferKind::Storage, label)?;
        if !fresh {
            let mut encoder =
                ctx.device()
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("morphogen.buffer.clear"),
                    });
            encoder.clear_buffer(buffer.raw(), 0, Some(padded(Self::byte_len(len))));
            ctx.queue().submit([encoder.finish()]);
        }
        Ok(buffer)
    }

    /// A storage buffer whose contents are unspecified: for outputs a kernel writes whole.
    pub fn scratch(ctx: &GpuContext, len: usize, label: &str) -> Result<Self> {
        Ok(Self::allocate(ctx, len, BufferKind::Storage, label)?.0)
    }

    /// Overwrites the first `data.len()` elements. The write lands before any command
    /// submitted afterwards.
    pub fn write(&self, ctx: &GpuContext, data: &[T]) -> Result<()> {
        self.write_at(ctx, 0, data)
    }

    /// Overwrites elements `offset..offset + data.len()`.
    pub fn write_at(&self, ctx: &GpuContext, offset: usize, data: &[T]) -> Result<()> {
        if offset + data.len() > self.len {
            return Err(Error::invalid(format!(
                "write of {} elements at {offset} into a buffer of {}",
                data.len(),
                self.len
            )));
        }
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let start = Self::byte_len(offset);
        if bytes.is_empty() {
            return Ok(());
        }
        if !start.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) {
            return Err(Error::invalid(format!(
                "a write must start on a 4-byte boundary (element {offset} is at byte {start})"
            )));
        }
        if bytes.len().is_multiple_of(4) {
            ctx.queue().write_buffer(self.raw(), start, bytes);
        } else if offset + data.len() == self.len {
            // The allocation is padded to 4 bytes, so the tail may be padded too.
            let mut tail = bytes.to_vec();
            tail.resize(padded(bytes.len() as u64) as usize, 0);
            ctx.queue().write_buffer(self.raw(), start, &tail);
        } else {
            return Err(Error::invalid(format!(
                "a write that does not reach the end of the buffer must cover a multiple of 4 \
                 bytes ({} bytes at element {offset})",
                bytes.len()
            )));
        }
        Ok(())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the contents in bytes.
    pub fn byte_size(&self) -> u64 {
        Self::byte_len(self.len)
    }

    /// The underlying wgpu buffer (its size may exceed `byte_size`, as pooled storage is
    /// rounded up to a size class).
    pub fn raw(&self) -> &wgpu::Buffer {
        self.raw.as_ref().expect("buffer present until drop")
    }

    /// Binds exactly the elements of this buffer.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        self.binding_range(0, self.len)
    }

    /// Binds elements `start..start + count` (for chunking buffers larger than one binding).
    /// `start * size_of::<T>()` must be a multiple of the device's storage offset alignment.
    pub fn binding_range(&self, start: usize, count: usize) -> wgpu::BindingResource<'_> {
        let size = padded(Self::byte_len(count).max(4));
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.raw(),
            offset: Self::byte_len(start),
            size: wgpu::BufferSize::new(size),
        })
    }

    /// Reads the whole buffer back to the host (one submit, then a wait).
    pub fn read(&self, ctx: &GpuContext) -> Result<Vec<T>> {
        let mut encoder = ctx
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("morphogen.buffer.read"),
            });
        let pending = Pending::record(ctx, &mut encoder, self)?;
        ctx.queue().submit([encoder.finish()]);
        pending.wait(ctx)
    }

    /// Copies all of `src` into the start of this buffer (one submit).
    pub fn copy_from(&self, ctx: &GpuContext, src: &GpuBuffer<T>) -> Result<()> {
        if src.len > self.len {
            return Err(Error::invalid(format!(
                "copy of {} elements into a buffer of {}",
                src.len, self.len
            )));
        }
        let mut encoder = ctx
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("morphogen.buffer.copy"),
            });
        encoder.copy_buffer_to_buffer(src.raw(), 0, self.raw(), 0, padded(src.byte_size()));
        ctx.queue().submit([encoder.finish()]);
        Ok(())
    }
}

/// A readback that has been recorded (copy into a staging buffer) and completes once its
/// command buffer has been submitted and the GPU has finished it.
#[must_use = "a recorded readback does nothing until it is waited on"]
pub struct Pending<T: Pod> {
    staging: Option<wgpu::Buffer>,
    len: usize,
    pool: Arc<PoolShared>,
    _elem: PhantomData<T>,
}

impl<T: Pod> Drop for Pending<T> {
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take() {
            self.pool.release(staging);
        }
    }
}

impl<T: Pod> Pending<T> {
    /// Records a copy of `src` into a staging buffer.
    pub(crate) fn record(
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        src: &GpuBuffer<T>,
    ) -> Result<Self> {
        Self::record_range(ctx, encoder, src, 0, src.len)
    }

    /// Records a copy of elements `start..start + len` of `src` into a staging buffer
    /// (whole elements of 4 bytes or a multiple of 4, as copies need).
    pub(crate) fn record_range(
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        src: &GpuBuffer<T>,
        start: usize,
        len: usize,
    ) -> Result<Self> {
        if start + len > src.len
            || !std::mem::size_of::<T>().is_multiple_of(4) && (start > 0 || len < src.len)
        {
            return Err(Error::invalid(format!(
                "cannot read elements {start}..{} of a buffer of {}",
                start + len,
                src.len
            )));
        }
        let offset = GpuBuffer::<T>::byte_len(start);
        let bytes = padded(GpuBuffer::<T>::byte_len(len));
        let staging = ctx
            .inner
            .pool
            .acquire(
                &ctx.inner.device,
                &ctx.inner.limits,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                bytes,
                "morphogen.staging",
            )?
            .buffer;
        if bytes > 0 {
            encoder.copy_buffer_to_buffer(src.raw(), offset, &staging, 0, bytes);
        }
        Ok(Self {
            staging: Some(staging),
            len,
            pool: Arc::clone(&ctx.inner.pool.shared),
            _elem: PhantomData,
        })
    }

    /// Waits for the GPU and returns the values. The command buffer that recorded this
    /// readback must have been submitted. (In the browser use [`Pending::wait_async`].)
    pub fn wait(self, ctx: &GpuContext) -> Result<Vec<T>> {
        pollster::block_on(self.wait_async(ctx))
    }

    /// The values, without blocking the thread: in the browser the map completes when
    /// the page's event loop runs.
    pub async fn wait_async(mut self, ctx: &GpuContext) -> Result<Vec<T>> {
        let staging = self.staging.take().expect("staging present until wait");
        let result = read_mapped::<T>(ctx, &staging, self.len).await;
        if result.is_ok() {
            self.pool.release(staging);
        }
        result
    }
}

async fn read_mapped<T: Pod>(
    ctx: &GpuContext,
    staging: &wgpu::Buffer,
    len: usize,
) -> Result<Vec<T>> {
    let bytes = (len * std::mem::size_of::<T>()) as u64;
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let what = format!("{len} × {}", std::any::type_name::<T>());
    let range = 0..padded(bytes);
    let (sender, receiver) = futures::channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, range.clone(), move |result| {
        let _ = sender.send(result);
    });
    // Native devices are driven by polling; the browser drives its own.
    #[cfg(not(target_arch = "wasm32"))]
    ctx.inner
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Readback {
            what: what.clone(),
            message: e.to_string(),
        })?;
    let mapped = receiver.await;
    ctx.check_errors("reading back results")?;
    match mapped {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(Error::Readback {
                what,
                message: e.to_string(),
            })
        }
        Err(_) => {
            return Err(Error::Readback {
                what,
                message: "the map callback was dropped before it ran".into(),
            })
        }
    }
    let values = {
        let view = staging
            .get_mapped_range(range)
            .map_err(|e| Error::Readback {
                what: what.clone(),
                message: e.to_string(),
            })?;
        let mut values = vec![T::zeroed(); len];
        bytemuck::cast_slice_mut::<T, u8>(&mut values).copy_from_slice(&view[..bytes as usize]);
        values
    };
    staging.unmap();
    Ok(values)
}
