//! The GPU runtime the engines share: a context on a chosen adapter, typed resident
//! buffers from a pool, a kernel cache over the embedded WGSL, recording of many dispatches
//! per submit, readback, timing, reductions and random streams.
//!
//! # Kernels
//!
//! | kernel (`shaders/`) | driver | CPU twin | tests |
//! |---|---|---|---|
//! | `reduce/reduce.wgsl` | [`reduce`](mod@reduce) | [`reduce_cpu`] | `tests/reduce.rs` |
//! | `rng/fill.wgsl` | [`random`] | [`crate::rng`] | `tests/rng.rs` |
//! | `bench/exp_rate.wgsl`, `bench/fma_rate.wgsl`, `bench/copy.wgsl` | [`peaks`] | (measurements: `benches/adapter_limits.rs`, `morphogen info`) | `tests/shaders.rs` (validation) |

pub mod buffer;
pub mod context;
pub mod kernels;
mod ledger;
pub mod peaks;
mod pool;
pub mod preprocess;
pub mod random;
pub mod record;
pub mod reduce;
pub mod timing;

pub use buffer::{BufferKind, GpuBuffer, Pending};
pub use context::{list_adapters, AdapterReport, ContextOptions, GpuContext, ADAPTER_ENV};
pub use kernels::{Binding, Kernel, KernelDesc};
pub use peaks::{measure_peaks, AdapterPeaks};
pub use random::{record_fill, Draw};
pub use record::{Grid, Recorder, Submitted};
pub use reduce::{record_reduce, record_reduce_at, reduce, reduce_cpu, reduce_rows, ReduceOp};
pub use timing::{measure, Samples, StepProfile, Timing};
