//! The Runge–Kutta machinery of the CPU twins, per particle and in shared-step mode: the
//! augmented right-hand side, stages, and dense output at save times.

use crate::flow::config::LogDensity;
use crate::flow::eval::{
    eval, eval_divergence_central, eval_divergence_exact, eval_divergence_hutchinson,
};
use crate::flow::model::VelocityField;
use crate::flow::tableau::Tableau;

/// The augmented derivative [v, −div v] (the last entry only with a log-density).
pub(crate) struct System<'a> {
    pub field: &'a VelocityField,
    pub cond: &'a [f64],
    pub mode: LogDensity,
    pub probe: Vec<f64>,
    pub central_step: f64,
    pub evaluations: u32,
}

impl System<'_> {
    pub(crate) fn rhs(&mut self, t: f64, y: &[f64]) -> Vec<f64> {
        self.evaluations += 1;
        let d = self.field.dim;
        let x = &y[..d];
        match self.mode {
            LogDensity::Off => eval(self.field, x, t, self.cond),
            LogDensity::Exact => {
                let (mut v, div) = eval_divergence_exact(self.field, x, t, self.cond);
                v.push(-div);
                v
            }
            LogDensity::Hutchinson => {
                let (mut v, div) =
                    eval_divergence_hutchinson(self.field, x, t, self.cond, &self.probe);
                v.push(-div);
                v
            }
            LogDensity::Central => {
                let (mut v, div) =
                    eval_divergence_central(self.field, x, t, self.cond, self.central_step);
                v.push(-div);
                v
            }
        }
    }
}

pub(crate) fn axpy(y: &[f64], h: f64, weights: &[f64], k: &[Vec<f64>]) -> Vec<f64> {
    let mut out = y.to_vec();
    for (w, ki) in weights.iter().zip(k) {
        if *w != 0.0 {
            for (o, v) in out.iter_mut().zip(ki) {
                *o += h * w * v;
            }
        }
    }
    out
}

/// Cubic Hermite interpolation on a step from (y0, f0) to (y1, f1) of length h, at θ.
pub(crate) fn hermite(
    y0: &[f64],
    f0: &[f64],
    y1: &[f64],
    f1: &[f64],
    h: f64,
    theta: f64,
) -> Vec<f64> {
    let (t2, t3) = (theta * theta, theta * theta * theta);
    let (h00, h10, h01, h11) = (
        2.0 * t3 - 3.0 * t2 + 1.0,
        t3 - 2.0 * t2 + theta,
        -2.0 * t3 + 3.0 * t2,
        t3 - t2,
    );
    (0..y0.len())
        .map(|i| h00 * y0[i] + h10 * h * f0[i] + h01 * y1[i] + h11 * h * f1[i])
        .collect()
}

pub(crate) fn stages(
    tab: &Tableau,
    sys: &mut System<'_>,
    t: f64,
    y: &[f64],
    h: f64,
    k1: Vec<f64>,
) -> Vec<Vec<f64>> {
    let mut k = vec![k1];
    for i in 1..tab.stages() {
        let weights: Vec<f64> = (0..i).map(|j| tab.a(i, j)).collect();
        let yi = axpy(y, h, &weights, &k);
        k.push(sys.rhs(t + tab.c[i] * h, &yi));
    }
    k
}

/// The ends of a step: states and derivatives (the end derivative when known).
pub(crate) struct StepEnds<'a> {
    pub y0: &'a [f64],
    pub f0: &'a [f64],
    pub y1: &'a [f64],
    pub f1: Option<&'a [f64]>,
}

/// Saves the times of `times[*next..]` that fall in the step (t, t + h].
pub(crate) fn save_in_step(
    times: &[f64],
    next: &mut usize,
    saves: &mut Vec<Vec<f64>>,
    t: f64,
    h: f64,
    ends: StepEnds<'_>,
) {
    let StepEnds { y0, f0, y1, f1 } = ends;
    let dir = h.signum();
    while *next < times.len() && dir * (times[*next] - (t + h)) <= 0.0 {
        let ts = times[*next];
        let theta = (ts - t) / h;
        saves.push(match f1 {
            _ if theta >= 1.0 => y1.to_vec(),
            Some(f1) => hermite(y0, f0, y1, f1, h, theta),
            None => y1.to_vec(),
        });
        *next += 1;
    }
}
