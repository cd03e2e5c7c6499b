//! What grid automata share: pictures and time-lapses. The biome ([`crate::biome`]) and
//! the coffee automaton ([`crate::coffee`]) each keep their own state and kernels; both
//! draw their frames into an [`Image`] and gather them in a [`TimeLapse`], and both key
//! their random draws by Philox counters (`shaders/common/rng.wgsl`, [`crate::rng`]).

mod picture;
mod thinned;

pub use picture::{Image, TimeLapse};
pub use thinned::Thinned;
