//! Exact minibatch assignment on the host: the auction of `auction.wgsl` run one bid at a
//! time (Gauss–Seidel). On a CPU adapter the "GPU" is the same cores, and a one-workgroup
//! auction runs on one of them through barrier-bound rounds; bidding sequentially does the
//! same work without the rounds (measured on lavapipe, 2 cores: B = 256 in about 4 ms
//! against 30 to 45 ms, B = 1024 in about 95 ms against 600 ms).
//!
//! It solves the same quantised problem as the GPU auction (integer benefits
//! a_ij = (LEVELS − Q_ij)(B + 1), ε scaled by 8 down to 1), so its assignment is optimal
//! for the quantised costs and within B·C_max/(2·LEVELS) of the true optimum; where
//! several assignments are optimal it may pick another one than the GPU.

use super::assign::levels;

/// The optimal assignment of `x0`'s rows to `x1`'s (B × d each, row-major) under squared
/// Euclidean cost: `matched[i]` is the target row of source row i.
pub fn assign_host(x0: &[f32], x1: &[f32], dim: usize) -> Vec<u32> {
    let b = x0.len() / dim.max(1);
    if b == 0 {
        return Vec::new();
    }
    // Costs as the kernel computes them (f32), quantised against the largest.
    let mut cost = vec![0f32; b * b];
    let mut c_max = 0f32;
    for i in 0..b {
        let a = &x0[i * dim..(i + 1) * dim];
        for (j, c) in cost[i * b..(i + 1) * b].iter_mut().enumerate() {
            let y = &x1[j * dim..(j + 1) * dim];
            *c = a.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
            c_max = c_max.max(*c);
        }
    }
    let top = i64::from(levels(b));
    let scale = if c_max > 0.0 { top as f32 / c_max } else { 0.0 };
    let unit = b as i64 + 1;
    let benefit: Vec<i64> = cost
        .iter()
        .map(|&c| (top - (c * scale).round() as i64) * unit)
        .collect();
    auction(&benefit, b, top * unit)
}

/// Maximises Σ benefit[i, matched[i]] over permutations (integer benefits, all below
/// `range`) by an ε-scaling auction ending at ε = 1.
fn auction(benefit: &[i64], b: usize, range: i64) -> Vec<u32> {
    const NONE: usize = usize::MAX;
    let mut price = vec![0i64; b];
    let mut owner = vec![NONE; b];
    let mut assigned = vec![NONE; b];
    let mut open: Vec<usize> = Vec::with_capacity(b);
    let mut eps = (range / 8).max(1);
    loop {
        // A phase keeps the pairs still within ε of their best (ε-complementary
        // slackness, Bertsekas): only the others bid again.
        open.clear();
        for i in (0..b).rev() {
            let j = assigned[i];
            let keep = j != NONE && {
                let row = &benefit[i * b..(i + 1) * b];
                let best = row.iter().zip(&price).map(|(&a, &p)| a - p).max();
                best.is_some_and(|best| row[j] - price[j] >= best - eps)
            };
            if !keep {
                if j != NONE {
                    owner[j] = NONE;
                    assigned[i] = NONE;
                }
                open.push(i);
            }
        }
        while let Some(i) = open.pop() {
            let row = &benefit[i * b..(i + 1) * b];
            let (mut v1, mut v2, mut j1) = (i64::MIN, i64::MIN, 0);
            for (j, (&a, &p)) in row.iter().zip(&price).enumerate() {
                let v = a - p;
                if v > v1 {
                    v2 = v1;
                    v1 = v;
                    j1 = j;
                } else if v > v2 {
                    v2 = v;
                }
            }
            // The bid leaves i indifferent between j1 and its second best, plus ε.
            price[j1] += if b == 1 { 0 } else { v1 - v2 } + eps;
            let previous = owner[j1];
            if previous != NONE {
                assigned[previous] = NONE;
                open.push(previous);
            }
            owner[j1] = i;
            assigned[i] = j1;
        }
        if eps == 1 {
            break;
        }
        eps = (eps / 8).max(1);
    }
    assigned.into_iter().map(|j| j as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::train::assign::{assignment_cost, cost_matrix, hungarian};

    #[test]
    fn the_host_auction_is_optimal_for_the_quantised_costs() {
        for seed in 0..60u64 {
            let key = crate::rng::seed_key(seed);
            let b = [1, 2, 3, 5, 17, 64, 200][(seed % 7) as usize];
            let d = 1 + (seed % 3) as usize;
            // Every third problem on a grid of small integers: many ties.
            let grid = seed % 3 == 0;
            let point = |k: u32| {
                let u = crate::rng::uniform4(key, [k, 0, 0, 0])[0];
                if grid {
                    (u * 5.0).floor()
                } else {
                    u * 4.0 - 2.0
                }
            };
            let x0: Vec<f32> = (0..(b * d) as u32).map(point).collect();
            let x1: Vec<f32> = (0..(b * d) as u32).map(|k| point(k + 100_000)).collect();
            let m = assign_host(&x0, &x1, d);
            let mut seen = m.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..b as u32).collect::<Vec<_>>(), "seed {seed}");
            let cost = cost_matrix(&x0, &x1, d);
            let (got, best) = (
                assignment_cost(&cost, &m),
                assignment_cost(&cost, &hungarian(&cost, b)),
            );
            let c_max = cost.iter().copied().fold(0.0, f64::max);
            if grid {
                assert_eq!(got, best, "seed {seed}: B {b} on a grid");
            } else {
                let bound = b as f64 * c_max / f64::from(levels(b)) + 1e-5 * best;
                assert!(
                    got - best <= bound,
                    "seed {seed}: {got} vs {best} (bound {bound:.2e})"
                );
            }
        }
    }
}
