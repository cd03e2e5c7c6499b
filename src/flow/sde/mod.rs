//! Stochastic, weighted and branching particles: SDEs with additive noise
//! (Euler–Maruyama, SRA1), drift v + s from a velocity and a score network (SF2M),
//! per-particle weights from growth heads (log-weight or additive), K branches with their
//! own networks advanced in one dispatch, effective sample size and mass per save time,
//! and optional systematic resampling.
//!
//! ```no_run
//! use morphogen::flow::sde::{simulate, Branch, Diffusion, SdeConfig, SdeSolver};
//! use morphogen::flow::VelocityField;
//! # fn main() -> morphogen::Result<()> {
//! let ctx = morphogen::gpu::GpuContext::new()?;
//! let branch = Branch::new(VelocityField::linear(&[-1.0], &[0.0])?);
//! let config = SdeConfig::default()
//!     .solver(SdeSolver::Sra1)
//!     .diffusion(Diffusion::Constant(0.5))
//!     .steps(100)
//!     .seed(7);
//! let out = simulate(&ctx, &[branch], &[1.0; 1000], &[], &[], &config)?;
//! println!("{:?}", out.state(0, 0, 0));
//! # Ok(())
//! # }
//! ```

mod config;
mod gpu;
pub mod reference;
mod weights;

pub use config::{Branch, Diffusion, Growth, SdeConfig, SdeResult, SdeSolver};
pub use gpu::{simulate, simulate_with_progress};
pub use reference::simulate_cpu;
pub use weights::{effective_sample_size, systematic_resample};
