//! Integration of learned velocity fields: networks exported from PyTorch evaluated
//! inside the integrator kernel, fixed-step and per-particle adaptive Runge–Kutta
//! solvers, dense output at save times, and log-densities along the flow.
//!
//! # Kernels
//!
//! | kernel (`shaders/`) | driver | CPU twin | tests |
//! |---|---|---|---|
//! | `flow/integrate.wgsl` (network from `network_kernel`) | `gpu`, `resident`, `shared_step` | [`mod@reference`] (`rk`, `shared_step`), [`eval`] | `tests/flow_cpu.rs`, `flow_fields.rs`, `flow_fixtures.rs` |
//! | `flow/sde.wgsl` (networks from `network_kernel`) | `sde::gpu` | `sde::reference` | `tests/flow_sde.rs` |

mod codes;
mod config;
pub mod datasets;
pub mod eval;
mod gpu;
mod inputs;
mod model;
mod network_kernel;
mod pack;
mod private_rows;
pub mod reference;
mod resident;
pub mod sde;
mod shared_step;
mod step_control;
mod tableau;
pub mod train;

pub use config::{FlowConfig, FlowResult, LogDensity};
pub use datasets::eight_gaussians;
pub use gpu::{integrate, integrate_populations, integrate_with_progress, FlowProgress};
pub use model::{Activation, Dense, ModelSpec, TimeInput, VelocityField};
pub use network_kernel::{network_source, network_source_with_lanes, roles_network_source};
pub use private_rows::{integrate_state_source, sde_state_source};
pub use reference::{integrate_cpu, integrate_cpu_populations};
pub use tableau::{Solver, Tableau};
