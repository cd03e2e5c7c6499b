//! Training flow-matching fields on the GPU: minibatches drawn and paired on the device
//! (independent, exact optimal transport by an auction, or pairs drawn from an entropic
//! plan; on a CPU adapter the exact pairs come from [`assign_host`] between each step's
//! draw and its training passes, see [`ExactPairing`]), the network's forward and
//! backward passes and Adam in WGSL, many steps per submission and several models per
//! dispatch. The trained network is a [`crate::flow::VelocityField`] that the integrator
//! runs and PyTorch loads (TorchCFM's key layout). With [`TrainConfig::score`] each model
//! also trains a score network on the same batches (SF2M), for sampling by the SDE
//! dx = (v + s) dt + σ dW ([`Trainer::score_field`]).
//!
//! # Kernels
//!
//! | kernel (`shaders/flow/train/`) | driver | CPU twin | tests |
//! |---|---|---|---|
//! | `draw.wgsl` | [`Trainer`] | [`reference::draw_endpoints`] | `tests/flow_train.rs` |
//! | `auction.wgsl` | [`assign_gpu`], [`Trainer`] | [`hungarian`] (the oracle) | `tests/flow_train.rs` |
//! | `sinkhorn.wgsl` | [`Trainer`] | [`reference::sinkhorn`], [`reference::plan_pairs`] | `tests/flow_train.rs` |
//! | `path.wgsl` | [`Trainer`] | [`reference::pairs`], [`reference::regression`], [`reference::score_regression`] | `tests/flow_train.rs` |
//! | `forward.wgsl`, `loss.wgsl`, `backward.wgsl`, `grad.wgsl` | [`Trainer`] | [`reference::loss_and_gradient`] | `tests/flow_train.rs` |
//! | `adam.wgsl` | [`Trainer`] | [`reference::Adam`] | `tests/flow_train.rs` |
//!
//! ```no_run
//! use morphogen::flow::train::{Method, Sampler, TrainConfig, Trainer};
//! # fn main() -> morphogen::Result<()> {
//! let ctx = morphogen::gpu::GpuContext::new()?;
//! let config = TrainConfig::default().method(Method::Otcfm).steps(2000);
//! let mut trainer = Trainer::new(&ctx, &config, &Sampler::EightGaussians, &Sampler::Moons)?;
//! let losses = trainer.train(config.steps, &mut |_| {})?;
//! println!("final loss {}", losses[losses.len() - 1]);
//! let field = trainer.field(0)?; // integrate it with morphogen::flow::integrate
//! # let _ = field;
//! # Ok(())
//! # }
//! ```

pub mod assign;
mod assign_host;
mod checkpoint;
mod config;
mod evaluate;
mod gpu;
pub mod layout;
mod passes;
pub mod reference;
pub mod shared;

pub use assign::{assign_gpu, hungarian, w2_squared_gpu};
pub use assign_host::assign_host;
pub use checkpoint::TrainCheckpoint;
pub use config::{EntropicPairing, ExactPairing, Method, NetworkShape, Sampler, TrainConfig};
pub use evaluate::{evaluate, evaluate_sde, Evaluation};
pub use gpu::{score_seed, PerModel, TrainProgress, Trainer};
pub use layout::Layout;
