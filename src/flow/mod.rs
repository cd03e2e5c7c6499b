//! Integration of learned velocity fields: networks exported from PyTorch evaluated
//! inside the integrator kernel, fixed-step and per-particle adaptive Runge–Kutta
//! solvers, dense output at save times, and log-densities along the flow.

mod codes;
mod config;
pub mod eval;
mod gpu;
mod inputs;
mod model;
mod network_kernel;
mod pack;
pub mod reference;
mod resident;
pub mod sde;
mod shared_step;
mod step_control;
mod tableau;

pub use config::{FlowConfig, FlowResult, LogDensity};
pub use gpu::{integrate, integrate_populations};
pub use model::{Activation, Dense, ModelSpec, TimeInput, VelocityField};
pub use network_kernel::{network_source, roles_network_source};
pub use reference::{integrate_cpu, integrate_cpu_populations};
pub use tableau::{Solver, Tableau};
