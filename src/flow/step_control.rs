//! Adaptive step control of the CPU twins and the shared-step driver (the integrator
//! kernel does the same in WGSL): the error norm, the step-size factor, Hairer's initial
//! step, and the last step's stretch to the end time.

/// The step to attempt from t with the proposed h towards t1 (`dir` its sign), and whether
/// it is the last: a step that would leave less than 1% of itself before t1 is stretched
/// to t1, so rounding never leaves a sliver of a step at the end.
pub(crate) fn clip_to_end(t: f64, h: f64, t1: f64, dir: f64) -> (f64, bool) {
    let last = dir * (t1 - (t + h)) <= 0.01 * h.abs();
    (if last { t1 - t } else { h }, last)
}

/// RMS over components of err / (atol + rtol max(|y0|, |y1|)).
pub(crate) fn error_norm(err: &[f64], y0: &[f64], y1: &[f64], rtol: f64, atol: f64) -> f64 {
    let sum: f64 = (0..err.len())
        .map(|i| {
            let scale = atol + rtol * y0[i].abs().max(y1[i].abs());
            (err[i] / scale).powi(2)
        })
        .sum();
    (sum / err.len() as f64).sqrt()
}

/// New step size factor from the error norm.
pub(crate) fn step_factor(norm: f64) -> f64 {
    if norm == 0.0 {
        return 10.0;
    }
    (0.9 * norm.powf(-0.2)).clamp(0.2, 10.0)
}

/// The probe step h0 of Hairer's initial step from the scaled norms of y0 and f(y0).
pub(crate) fn hairer_probe(d0: f64, d1: f64) -> f64 {
    if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    }
}

/// Hairer's initial step from the probe h0, the scaled norm d1 of f(y0) and d2, the scaled
/// change of f over the probe step divided by h0.
pub(crate) fn hairer_step(h0: f64, d1: f64, d2: f64, order: u32) -> f64 {
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(1.0 / f64::from(order + 1))
    };
    (100.0 * h0).min(h1)
}
