//! The Coffee Automaton (Aaronson, Carroll, Ouellette 2014): cream poured on coffee in a
//! closed box mixes; its entropy only rises while its apparent complexity rises and falls.
//!
//! An [`Automaton`] keeps `replicas` independent `n × n` grids of one [`Model`] on the
//! GPU. The interacting model swaps one pair of differing neighbours per step (the jump
//! chain of the symmetric exclusion process: sequential per replica, so the parallelism
//! is across replicas, and each invocation runs many swaps between samples); the
//! non-interacting model moves every cream particle at once. Every sample is
//! coarse-grained on the GPU (integer summed-area table, `g × g` truncated windows, 3 and
//! 7 buckets, the adjustment), read back as bytes and compressed on host threads
//! ([`measures`](fn@measures)) while the GPU runs on. Random draws are Philox counters
//! keyed by seed, replica and step, so a run is the same whatever the dispatch sizes.
//!
//! The paper's authors later wrote that the interacting model provably never becomes
//! complex and that the bump in their adjusted complexity is probably a border artefact:
//! the adjusted measure is the tool that exposes it, and the figures here show what is
//! measured, no more.
//!
//! ```no_run
//! use morphogen::coffee::{Automaton, CoffeeConfig, Model, Schedule};
//! use morphogen::gpu::GpuContext;
//!
//! let ctx = GpuContext::new()?;
//! let config = CoffeeConfig::default().model(Model::Interacting).size(48).replicas(16);
//! let mut automaton = Automaton::new(&ctx, &config, 7)?;
//! automaton.run_with(&Schedule::spread(200_000, 101), |sample| {
//!     println!(
//!         "swap {}: entropy {:.0} bytes, complexity {:.0} bytes",
//!         sample.step,
//!         sample.entropy().mean,
//!         sample.complexity().mean
//!     );
//!     Ok(())
//! })?;
//! # Ok::<(), morphogen::Error>(())
//! ```
//!
//! # Kernels
//!
//! Driven by `automaton`; CPU twins in [`mod@reference`]; tests in `tests/coffee.rs`
//! (every kernel against its twin, the rules' exact expectations) and
//! `tests/coffee_cpu.rs` (coarse-graining against brute force, the adjustments).
//!
//! | kernel (`shaders/coffee/`) | what | CPU twin |
//! |---|---|---|
//! | `advance.wgsl` | interacting swaps up to a target on either clock | `reference::advance` |
//! | `walk.wgsl` | non-interacting particle moves | `reference::walk` |
//! | `count.wgsl` | particles per cell | `reference::counts` |
//! | `sat_rows.wgsl`, `sat_cols.wgsl` | integer summed-area table, row totals | `reference::summed_area` |
//! | `coarse.wgsl` | window averages in 3 and 7 buckets | `reference::coarse_grain` |
//! | `adjust.wgsl` | the adjusted 7-bucket state | `reference::adjust_row` |
//! | `pack.wgsl` | one sample's bytes into its readback slot | (a copy) |

mod automaton;
mod checkpoint;
mod config;
mod measures;
mod params;
pub mod reference;
mod render;
mod run;
mod scaling;

pub use automaton::{Automaton, State};
pub use checkpoint::Checkpoint;
pub use config::{default_grain, Adjust, Boundary, CoffeeConfig, Model, Schedule};
pub use measures::{compressed_size, measures, Estimate, Measures, LEVEL};
pub use params::{
    ADJUST_CELLWISE, ADJUST_ROWWISE, BOUNDARY_CLOSED, BOUNDARY_PERIODIC, CLOCK_ATTEMPTS,
    CLOCK_SWAPS, CLOCK_WORDS, STREAM_SWAP, STREAM_WALK,
};
pub use reference::{Clock, ReplicaClock};
pub use render::render;
pub use run::{Curve, Grids, Sample};
pub use scaling::{fit_polynomial, scaling_fit, Extremes, Fit, Quantity};

use crate::coffee::config::Model as M;

/// Coarse-grains one fine grid on the CPU (`cells`: `n × n` row-major, 0/1 or particle
/// counts) as a run of `config` does on the GPU.
pub fn coarse_grain(cells: &[u32], config: &CoffeeConfig) -> Grids {
    let n = config.size;
    let [coarse, _, adjusted] = reference::coarse_grain(
        cells,
        n,
        config.grain_size(),
        config.max_value(),
        config.adjust,
    );
    let cap = match config.model {
        M::Interacting => 1,
        M::NonInteracting => 255,
    };
    Grids {
        n,
        fine: cells.iter().map(|&v| v.min(cap) as u8).collect(),
        coarse,
        adjusted,
    }
}
