//! Weights of particles: effective sample size, mass, and systematic resampling between
//! segments (on the host, over one branch's n weights, by a prefix sum).

use crate::flow::sde::config::Growth;

/// (Σw)² / Σw²: n for equal weights, 1 when one particle holds all the mass.
pub fn effective_sample_size(weights: &[f64]) -> f64 {
    let (sum, squares) = weights
        .iter()
        .fold((0.0, 0.0), |(s, q), &w| (s + w, q + w * w));
    if squares > 0.0 {
        sum * sum / squares
    } else {
        0.0
    }
}

/// Systematic resampling: ancestor j is the particle whose cumulative normalised weight
/// first exceeds (u + j) / n, for one uniform u in [0, 1). Negative weights count as 0.
/// Returns n ancestor indices in increasing order.
pub fn systematic_resample(weights: &[f64], u: f64) -> Vec<usize> {
    let n = weights.len();
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    if n == 0 || total <= 0.0 {
        return (0..n).collect();
    }
    let mut ancestors = Vec::with_capacity(n);
    let mut cumulative = 0.0;
    let mut i = 0;
    for j in 0..n {
        let target = (u + j as f64) / n as f64 * total;
        while i + 1 < n && cumulative + weights[i].max(0.0) <= target {
            cumulative += weights[i].max(0.0);
            i += 1;
        }
        ancestors.push(i);
    }
    ancestors
}

/// The uniform of the resampling after save `save` of branch `branch`.
fn resample_uniform(seed: u64, save: usize, branch: usize) -> f64 {
    let key = crate::rng::seed_key(seed);
    let words = crate::rng::philox4x32_10([save as u32, branch as u32, 0x5245_5341, 0], key);
    f64::from(words[0]) / 4_294_967_296.0
}

/// Weights from the stored weight component (log w or w).
pub(crate) fn weight_value(stored: f64, growth: Growth) -> f64 {
    match growth {
        Growth::LogWeight => stored.exp(),
        Growth::Additive => stored,
    }
}

/// Where one branch's particles lie in a state array (branches × n × aug, the weight at
/// component d).
#[derive(Clone, Copy)]
pub(crate) struct Layout {
    pub n: usize,
    pub aug: usize,
    pub d: usize,
}

/// Mass and ESS of branch `b` of `state`.
pub(crate) fn branch_stats<T: Copy + Into<f64>>(
    state: &[T],
    layout: Layout,
    b: usize,
    growth: Growth,
) -> (f64, f64) {
    let w: Vec<f64> = (0..layout.n)
        .map(|p| {
            weight_value(
                state[(b * layout.n + p) * layout.aug + layout.d].into(),
                growth,
            )
        })
        .collect();
    (w.iter().sum(), effective_sample_size(&w))
}

/// Resamples branch `b` of `state` when its ESS is below `fraction` × n: particles are
/// replaced by their ancestors and every weight becomes the branch's mass / n. Returns
/// whether it resampled.
pub(crate) fn maybe_resample<T: Copy + Into<f64>>(
    state: &mut [T],
    layout: Layout,
    b: usize,
    (growth, fraction, seed, save): (Growth, f64, u64, usize),
    from_f64: fn(f64) -> T,
) -> bool {
    let Layout { n, aug, d } = layout;
    let w: Vec<f64> = (0..n)
        .map(|p| weight_value(state[(b * n + p) * aug + d].into(), growth))
        .collect();
    if effective_sample_size(&w) >= fraction * n as f64 {
        return false;
    }
    let mass: f64 = w.iter().sum();
    let ancestors = systematic_resample(&w, resample_uniform(seed, save, b));
    let old = state[b * n * aug..(b + 1) * n * aug].to_vec();
    let stored = match growth {
        Growth::LogWeight => (mass / n as f64).ln(),
        Growth::Additive => mass / n as f64,
    };
    for (p, &a) in ancestors.iter().enumerate() {
        let dst = (b * n + p) * aug;
        state[dst..dst + d].copy_from_slice(&old[a * aug..a * aug + d]);
        state[dst + d] = from_f64(stored);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_resampling_keeps_expected_counts() {
        let w = [0.1, 0.0, 0.6, 0.3];
        for &u in &[0.0, 0.3, 0.99] {
            let a = systematic_resample(&w, u);
            let count = |i| a.iter().filter(|&&x| x == i).count();
            assert_eq!(a.len(), 4);
            assert_eq!(count(1), 0, "a zero weight is never chosen ({a:?})");
            // Systematic resampling gives floor or ceil of n w_i copies.
            assert!((2..=3).contains(&count(2)), "{a:?}");
            assert!((1..=2).contains(&count(3)), "{a:?}");
            assert!(count(0) <= 1, "{a:?}");
        }
        assert_eq!(effective_sample_size(&[1.0; 8]), 8.0);
        assert!((effective_sample_size(&[1.0, 0.0, 0.0]) - 1.0).abs() < 1e-12);
    }
}
