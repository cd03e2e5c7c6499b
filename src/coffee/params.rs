//! The parameter block of every coffee kernel (`Params` in `shaders/common/coffee.wgsl`)
//! and the constants both sides agree on: one 256-byte block per dispatch, bound with a
//! dynamic offset, so many dispatches record into one submission.

use bytemuck::{Pod, Zeroable};

use crate::coffee::config::{Adjust, Boundary, CoffeeConfig};

/// `BOUNDARY_CLOSED` in the shaders.
pub const BOUNDARY_CLOSED: u32 = 0;
/// `BOUNDARY_PERIODIC`.
pub const BOUNDARY_PERIODIC: u32 = 1;
/// `CLOCK_SWAPS`: `advance` runs until the swaps reach the target.
pub const CLOCK_SWAPS: u32 = 0;
/// `CLOCK_ATTEMPTS`: `advance` runs until the attempts reach the target.
pub const CLOCK_ATTEMPTS: u32 = 1;
/// `ADJUST_ROWWISE`.
pub const ADJUST_ROWWISE: u32 = 0;
/// `ADJUST_CELLWISE`.
pub const ADJUST_CELLWISE: u32 = 1;
/// `STREAM_SWAP`: the last counter word of the interacting model's draws.
pub const STREAM_SWAP: u32 = 1;
/// `STREAM_WALK`: the last counter word of the non-interacting model's draws.
pub const STREAM_WALK: u32 = 2;
/// `CLOCK_WORDS`: words per replica in the clock buffer.
pub const CLOCK_WORDS: u32 = 4;

/// Mirrors `Params` in `shaders/common/coffee.wgsl`, padded to a 256-byte block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct CoffeeParams {
    pub n: u32,
    pub replicas: u32,
    pub boundary: u32,
    pub clock: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub goal_lo: u32,
    pub goal_hi: u32,
    pub first_step: u32,
    pub end_step: u32,
    pub grain_half: u32,
    pub max_value: u32,
    pub adjust: u32,
    pub slot: u32,
    pub max_attempts: u32,
    pub particles: u32,
    pub pad: [u32; 48],
}

const _: () = assert!(std::mem::size_of::<CoffeeParams>() == 256);

impl CoffeeParams {
    /// The block of a run of `config` under `seed`, with no target, steps or slot yet.
    pub fn new(config: &CoffeeConfig, seed: u64) -> Self {
        let [seed_lo, seed_hi] = crate::rng::seed_key(seed);
        Self {
            n: config.size as u32,
            replicas: config.replicas as u32,
            boundary: boundary_code(config.boundary),
            clock: CLOCK_SWAPS,
            seed_lo,
            seed_hi,
            grain_half: (config.grain_size() / 2) as u32,
            max_value: config.max_value(),
            adjust: match config.adjust {
                Adjust::Rowwise => ADJUST_ROWWISE,
                Adjust::Cellwise => ADJUST_CELLWISE,
            },
            max_attempts: u32::MAX,
            particles: config.cream() as u32,
            ..Zeroable::zeroed()
        }
    }
}

/// The shaders' code of a boundary.
pub(crate) fn boundary_code(boundary: Boundary) -> u32 {
    match boundary {
        Boundary::Closed => BOUNDARY_CLOSED,
        Boundary::Periodic => BOUNDARY_PERIODIC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::preprocess::u32_constants;

    #[test]
    fn every_constant_agrees_with_the_shaders() {
        let wgsl = u32_constants("common/coffee").unwrap();
        for (name, value) in [
            ("BOUNDARY_CLOSED", BOUNDARY_CLOSED),
            ("BOUNDARY_PERIODIC", BOUNDARY_PERIODIC),
            ("CLOCK_SWAPS", CLOCK_SWAPS),
            ("CLOCK_ATTEMPTS", CLOCK_ATTEMPTS),
            ("ADJUST_ROWWISE", ADJUST_ROWWISE),
            ("ADJUST_CELLWISE", ADJUST_CELLWISE),
            ("STREAM_SWAP", STREAM_SWAP),
            ("STREAM_WALK", STREAM_WALK),
            ("CLOCK_WORDS", CLOCK_WORDS),
        ] {
            assert_eq!(wgsl.get(name), Some(&value), "{name}");
        }
    }
}
