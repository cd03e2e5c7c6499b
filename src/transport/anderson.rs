//! Anderson acceleration: when the GPU solver and its CPU twin extrapolate, which history
//! slot an iteration fills, and the extrapolation itself in f64 (the twin's, and the
//! statement of what the kernels compute).

use crate::transport::config::Anderson;
use crate::transport::schedule::Resolved;

/// When to record and extrapolate, from the first iteration at the target ε on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AndersonSchedule {
    pub settings: Anderson,
    start: usize,
}

impl AndersonSchedule {
    /// The schedule of a batch: its history starts once every problem has reached its
    /// target ε (at once without ε-scaling).
    pub(crate) fn new(settings: Anderson, resolved: &[Resolved], max_iter: usize) -> Self {
        let start = resolved
            .iter()
            .map(|r| {
                (0..max_iter)
                    .find(|&t| r.eps_mult(t) <= 1.0)
                    .unwrap_or(max_iter)
            })
            .max()
            .unwrap_or(0);
        Self { settings, start }
    }

    /// Whether iteration `t` records its iterate and image.
    pub(crate) fn records(&self, t: usize) -> bool {
        t >= self.start
    }

    /// The history slot of iteration `t` (the extrapolation does not depend on the order of
    /// the slots, so a ring serves).
    pub(crate) fn slot(&self, t: usize) -> usize {
        (t - self.start) % self.settings.memory
    }

    /// Whether g is extrapolated before iteration `t`: once the history is full, every
    /// `refresh_every` iterations.
    pub(crate) fn extrapolates(&self, t: usize) -> bool {
        t >= self.start
            && t - self.start > self.settings.memory
            && (t - self.start).is_multiple_of(self.settings.refresh_every)
    }
}

/// −∞ (a zero weight's potential in the entropy convention) counts as 0 in a residual.
fn clean(v: f64) -> f64 {
    if v == f64::NEG_INFINITY {
        0.0
    } else {
        v
    }
}

/// Solves the symmetric positive definite system `a` w = 1 by Cholesky (k ≤ 8).
pub(crate) fn solve_spd(a: &[Vec<f64>]) -> Option<Vec<f64>> {
    let k = a.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s = a[i][j] - (0..j).map(|p| l[i][p] * l[j][p]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (1.0 - (0..i).map(|p| l[i][p] * y[p]).sum::<f64>()) / l[i][i];
    }
    let mut w = vec![0.0; k];
    for i in (0..k).rev() {
        w[i] = (y[i] - (i + 1..k).map(|p| l[p][i] * w[p]).sum::<f64>()) / l[i][i];
    }
    Some(w)
}

/// The combination weights of iterates `xs` and their images `gxs`, or `None` when the
/// residuals vanish or the system is singular (the potential is then left as it is).
pub(crate) fn weights(xs: &[Vec<f64>], gxs: &[Vec<f64>], ridge: f64) -> Option<Vec<f64>> {
    let k = xs.len();
    let residuals: Vec<Vec<f64>> = xs
        .iter()
        .zip(gxs)
        .map(|(x, gx)| {
            x.iter()
                .zip(gx)
                .map(|(&a, &b)| clean(b) - clean(a))
                .collect()
        })
        .collect();
    let mut gram = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let dot: f64 = residuals[i]
                .iter()
                .zip(&residuals[j])
                .map(|(a, b)| a * b)
                .sum();
            gram[i][j] = dot;
            gram[j][i] = dot;
        }
    }
    let norm = gram.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
    if norm.is_nan() || norm == 0.0 || norm.is_infinite() {
        return None;
    }
    for (i, row) in gram.iter_mut().enumerate() {
        for v in row.iter_mut() {
            *v /= norm;
        }
        row[i] += ridge;
    }
    let w = solve_spd(&gram)?;
    let total: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|v| v / total).collect();
    w.iter().all(|v| v.is_finite()).then_some(w)
}

/// Σ_k w_k gx_k, with a non-finite entry (−∞ images mixed with weights of both signs)
/// taken as −∞.
pub(crate) fn combine(gxs: &[Vec<f64>], w: &[f64]) -> Vec<f64> {
    (0..gxs[0].len())
        .map(|j| {
            let v: f64 = gxs.iter().zip(w).map(|(gx, &wk)| wk * gx[j]).sum();
            if v.is_finite() {
                v
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

/// The twin's history: iterates and images of g, in ring slots.
pub(crate) struct AndersonHistory {
    pub schedule: AndersonSchedule,
    xs: Vec<Vec<f64>>,
    gxs: Vec<Vec<f64>>,
}

impl AndersonHistory {
    pub(crate) fn new(schedule: AndersonSchedule, len: usize) -> Self {
        let memory = schedule.settings.memory;
        Self {
            schedule,
            xs: vec![vec![0.0; len]; memory],
            gxs: vec![vec![0.0; len]; memory],
        }
    }

    /// Before iteration `t`: extrapolates g when due, then records it as an iterate.
    pub(crate) fn before(&mut self, t: usize, g: &mut Vec<f64>) {
        if self.schedule.extrapolates(t) {
            let ridge = f64::from(self.schedule.settings.ridge);
            if let Some(w) = weights(&self.xs, &self.gxs, ridge) {
                *g = combine(&self.gxs, &w);
            }
        }
        if self.schedule.records(t) {
            self.xs[self.schedule.slot(t)].clone_from(g);
        }
    }

    /// After iteration `t`: records g as the image of the iterate.
    pub(crate) fn after(&mut self, t: usize, g: &[f64]) {
        if self.schedule.records(t) {
            self.gxs[self.schedule.slot(t)] = g.to_vec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_solve_the_ridged_system_and_sum_to_one() {
        let a = vec![vec![4.0, 1.0], vec![1.0, 3.0]];
        let w = solve_spd(&a).unwrap();
        for (row, _) in a.iter().zip(&w) {
            let lhs: f64 = row.iter().zip(&w).map(|(x, y)| x * y).sum();
            assert!((lhs - 1.0).abs() < 1e-12);
        }
        // Two iterates whose residuals are opposite: equal weights cancel them.
        let xs = vec![vec![0.0, 0.0], vec![2.0, 2.0]];
        let gxs = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        let w = weights(&xs, &gxs, 1e-2).unwrap();
        assert!(
            (w[0] - 0.5).abs() < 1e-12 && (w[1] - 0.5).abs() < 1e-12,
            "{w:?}"
        );
        assert_eq!(combine(&gxs, &w), vec![1.0, 1.0]);
        // No residual: nothing to extrapolate.
        assert!(weights(&gxs, &gxs, 1e-2).is_none());
    }
}
