//! What the trainer's kernels, their driver and the CPU twin agree on: the random
//! streams' purposes, the built-in samplers' geometry, and the per-step optimiser
//! scalars the host computes in f64.

use bytemuck::{Pod, Zeroable};

use super::config::TrainConfig;

/// The third word of a draw's Philox counter (row, step, purpose, block), named in
/// `shaders/flow/train/draws.wgsl` as `PURPOSE_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// A source point.
    Source = 0,
    /// A target point.
    Target = 1,
    /// The row's time t.
    Time = 2,
    /// The row's noise ε.
    Noise = 3,
    /// The plan entry a row is drawn from.
    Pair = 4,
}

/// Standard deviation of TorchCFM's eight Gaussians: covariance √0.1 I.
pub const EIGHT_GAUSSIANS_STD: f64 = 0.562_341_325_190_349_1;

/// The centre 5 (cos kπ/4, sin kπ/4) chosen by a uniform u in (0, 1).
pub fn eight_gaussians_centre(u: f32) -> (f64, f64) {
    let k = ((u * 8.0) as u32).min(7);
    let angle = std::f64::consts::FRAC_PI_4 * f64::from(k);
    (5.0 * angle.cos(), 5.0 * angle.sin())
}

/// Row `row` of a moons batch of `batch` points (torchdyn's `generate_moons` × 3 − 1):
/// the first ⌊B/2⌋ evenly along the upper arc, the rest along the lower, both coordinates
/// shifted by 0.2 u.
pub fn moons_point(row: usize, batch: usize, u: f64) -> (f64, f64) {
    let upper = batch / 2;
    let (k, n, lower) = if row < upper {
        (row, upper, false)
    } else {
        (row - upper, batch - upper, true)
    };
    let angle = if n > 1 {
        std::f64::consts::PI * k as f64 / (n - 1) as f64
    } else {
        0.0
    };
    let (x, y) = if lower {
        (1.0 - angle.cos(), 1.0 - angle.sin() - 0.5)
    } else {
        (angle.cos(), angle.sin())
    };
    let shift = 0.2 * u;
    (3.0 * (x + shift) - 1.0, 3.0 * (y + shift) - 1.0)
}

/// ⌊word · n / 2³²⌋: an index below n from a random word.
pub fn index_below(word: u32, n: usize) -> usize {
    ((u64::from(word) * n as u64) >> 32) as usize
}

/// One optimiser step's scalars (`StepScalars` in the kernels), from f64 on the host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// lr / (1 − β1^k).
    pub step_size: f64,
    /// 1 / √(1 − β2^k).
    pub inverse_root_correction: f64,
    /// 1 − lr · weight decay (AdamW's shrink; 1 for Adam).
    pub decay: f64,
}

impl AdamScalars {
    /// The scalars of step k (1-based).
    pub fn of(config: &TrainConfig, k: u64) -> Self {
        let (b1, b2) = config.betas;
        let power = |b: f64| b.powi(i32::try_from(k).unwrap_or(i32::MAX));
        Self {
            step_size: config.lr / (1.0 - power(b1)),
            inverse_root_correction: 1.0 / (1.0 - power(b2)).sqrt(),
            decay: 1.0 - config.lr * config.weight_decay,
        }
    }
}

/// The uniform block of one step (256 bytes, bound at a dynamic offset).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct StepBlock {
    pub step: u32,
    pub slot: u32,
    pub step_size: f32,
    pub inverse_root_correction: f32,
    pub decay: f32,
    pub pad: [u32; 59],
}

impl StepBlock {
    /// The block of step `k` (1-based; the draws use k − 1), whose loss goes to `slot`.
    pub fn new(config: &TrainConfig, k: u64, slot: u32) -> Self {
        let c = AdamScalars::of(config, k);
        Self {
            step: (k - 1) as u32,
            slot,
            step_size: c.step_size as f32,
            inverse_root_correction: c.inverse_root_correction as f32,
            decay: c.decay as f32,
            pad: [0; 59],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moons_span_both_arcs() {
        let b = 256;
        let first = moons_point(0, b, 0.0);
        assert!((first.0 - 2.0).abs() < 1e-12 && (first.1 + 1.0).abs() < 1e-12);
        let last_upper = moons_point(127, b, 0.0);
        assert!((last_upper.0 + 4.0).abs() < 1e-12, "{last_upper:?}");
        let first_lower = moons_point(128, b, 0.0);
        assert!((first_lower.0 + 1.0).abs() < 1e-12 && (first_lower.1 - 0.5).abs() < 1e-12);
        let shifted = moons_point(0, b, 1.0);
        assert!((shifted.0 - first.0 - 0.6).abs() < 1e-12);
    }

    #[test]
    fn eight_gaussians_std_is_the_fourth_root_of_a_tenth() {
        assert!((EIGHT_GAUSSIANS_STD - 0.1f64.powf(0.25)).abs() < 1e-15);
        assert_eq!(
            eight_gaussians_centre(0.999_999_9),
            eight_gaussians_centre(0.9)
        );
    }

    #[test]
    fn adam_scalars_match_pytorchs_first_step() {
        let config = TrainConfig::default();
        let c = AdamScalars::of(&config, 1);
        assert!((c.step_size - 1e-3 / 0.1).abs() < 1e-15);
        assert!((c.inverse_root_correction - 1.0 / 0.001f64.sqrt()).abs() < 1e-9);
        assert_eq!(std::mem::size_of::<StepBlock>(), 256);
    }
}
