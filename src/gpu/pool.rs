//! A pool that reuses GPU buffers by (usage, size class), so solvers that allocate the same
//! temporaries on every call do not go back to the driver each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Smallest allocation, in bytes: also keeps zero-length buffers bindable.
const MIN_BYTES: u64 = 256;

/// Bytes of unused buffers the pool keeps before it frees the surplus.
const DEFAULT_RETAIN_BYTES: u64 = 1 << 30;

/// Rounds a request up to its size class: four classes per power of two above 256 bytes,
/// so a pooled buffer wastes at most a quarter of its size.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(MIN_BYTES);
    let octave = 63 - bytes.leading_zeros() as u64; // floor(log2)
    let step = (1u64 << octave) / 4;
    bytes.div_ceil(step) * step
}

#[derive(Default)]
struct Free {
    buffers: HashMap<(u32, u64), Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// Shared state of the pool; buffers hold an `Arc` to it and return themselves on drop.
pub(crate) struct PoolShared {
    free: Mutex<Free>,
    retain_bytes: u64,
}

/// A buffer from the pool, and whether it is fresh (zeroed by the driver) or reused.
pub(crate) struct Acquired {
    pub buffer: wgpu::Buffer,
    pub fresh: bool,
}

/// Reuses storage, uniform and staging buffers by size class.
#[derive(Clone)]
pub(crate) struct BufferPool {
    pub(crate) shared: Arc<PoolShared>,
}

impl Default for BufferPool {
    fn default() -> Self {
        Self {
            shared: Arc::new(PoolShared {
                free: Mutex::new(Free::default()),
                retain_bytes: DEFAULT_RETAIN_BYTES,
            }),
        }
    }
}

impl BufferPool {
    /// A buffer of at least `bytes` bytes with exactly `usage`.
    pub(crate) fn acquire(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        usage: wgpu::BufferUsages,
        bytes: u64,
        label: &str,
    ) -> Result<Acquired> {
        let mut size = size_class(bytes);
        if size > limits.max_buffer_size {
            size = bytes
                .max(MIN_BYTES)
                .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        }
        if size > limits.max_buffer_size {
            return Err(Error::LimitExceeded {
                what: format!("buffer {label:?}"),
                requested: bytes,
                limit: limits.max_buffer_size,
                limit_name: "max_buffer_size",
                hint: "split the data into chunks that fit, or use a GPU with a larger limit",
            });
        }
        if let Ok(mut free) = self.shared.free.lock() {
            if let Some(buffer) = free
                .buffers
                .get_mut(&(usage.bits(), size))
                .and_then(Vec::pop)
            {
                free.bytes -= size;
                return Ok(Acquired {
                    buffer,
                    fresh: false,
                });
            }
        }
        // On out-of-memory, idle pooled buffers may be what holds the memory: free them
        // and try once more.
        for attempt in 0..2 {
            let (buffer, error) =
                crate::gpu::kernels::scoped(device, wgpu::ErrorFilter::OutOfMemory, || {
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(label),
                        size,
                        usage,
                        mapped_at_creation: false,
                    })
                });
            if error.is_none() {
                return Ok(Acquired {
                    buffer,
                    fresh: true,
                });
            }
            if attempt == 0 {
                self.trim();
            }
        }
        Err(Error::OutOfMemory {
            what: format!("buffer {label:?}"),
            bytes: size,
        })
    }

    /// Frees every idle buffer.
    pub(crate) fn trim(&self) {
        if let Ok(mut free) = self.shared.free.lock() {
            for buffer in free.buffers.drain().flat_map(|(_, list)| list) {
                buffer.destroy();
            }
            free.bytes = 0;
        }
    }

    /// Bytes held by idle buffers.
    pub(crate) fn idle_bytes(&self) -> u64 {
        self.shared.free.lock().map(|f| f.bytes).unwrap_or(0)
    }
}

impl PoolShared {
    /// Takes a buffer back; frees it instead when the pool already holds enough.
    pub(crate) fn release(&self, buffer: wgpu::Buffer) {
        let size = buffer.size();
        let Ok(mut free) = self.free.lock() else {
            return;
        };
        if free.bytes + size > self.retain_bytes {
            drop(free);
            buffer.destroy();
            return;
        }
        free.bytes += size;
        free.buffers
            .entry((buffer.usage().bits(), size))
            .or_default()
            .push(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_the_request_with_bounded_waste() {
        for bytes in [
            0u64,
            1,
            255,
            256,
            257,
            1000,
            4096,
            4097,
            1 << 20,
            (1 << 20) + 1,
            3_000_000_007,
        ] {
            let class = size_class(bytes);
            assert!(class >= bytes.max(256), "{bytes} -> {class}");
            assert_eq!(class % 4, 0);
            assert!(
                class as f64 <= (bytes.max(256) as f64) * 1.25 + 4.0,
                "{bytes} -> {class}"
            );
        }
        assert_eq!(size_class(1000), size_class(1001));
    }
}
