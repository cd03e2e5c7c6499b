//! morphogen: a GPU compute engine on WebGPU for entropic optimal transport, learned flows,
//! the Biomaker CA cellular automaton and the Coffee Automaton, sharing one runtime that keeps data resident on
//! the GPU.
//!
//! The runtime ([`gpu`]) runs on any Vulkan, Metal or DX12 adapter, or on the CPU through a
//! software Vulkan driver (Mesa's lavapipe).
//!
//! ```no_run
//! use morphogen::gpu::{self, GpuBuffer, GpuContext, ReduceOp};
//!
//! let ctx = GpuContext::new()?;
//! let values = GpuBuffer::from_slice(&ctx, &[1.0f32, 2.0, 3.0], "values")?;
//! let lse = gpu::reduce(&ctx, &values, ReduceOp::LogSumExp)?;
//! assert!((lse - 3.4076).abs() < 1e-3);
//! # Ok::<(), morphogen::Error>(())
//! ```
//!
//! The library also compiles to WebAssembly for the browser's WebGPU (`web/`); there,
//! nothing may block, so use the `_async` forms ([`gpu::GpuContext::with_options_async`],
//! [`biome::World::run_async`], [`biome::World::render_async`], [`gpu::Pending::wait_async`]).
//!
//! # Features
//!
//! - `cli` (default): the `morphogen` program and `morphogen::cli`, with clap, indicatif and
//!   env_logger. An application that embeds the engine turns default features off
//!   (`default-features = false`) and compiles none of them.
//! - `gif`: GIF time-lapses (`biome::TimeLapse::save_gif`); `cli` turns it on. Animated
//!   PNGs need no feature.

#![warn(missing_docs)]
// docs.rs marks what needs a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
// In the browser wgpu's handles are neither Send nor Sync (everything runs on one thread),
// so the context's shared parts are Arcs of !Send values there.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

pub mod automata;
pub mod biome;
#[cfg(feature = "cli")]
pub mod cli;
pub mod coffee;
pub mod error;
#[cfg(feature = "figures")]
pub mod figures;
pub mod flow;
pub mod gpu;
pub mod io;
pub mod rng;
pub mod transport;

pub use error::{Error, Result};
pub use wgpu;

/// The README's Rust snippets compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
