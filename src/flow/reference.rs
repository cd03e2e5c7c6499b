//! The CPU f64 reference integrator: the GPU kernel's tableaus, step control, dense
//! output and log-density in plain loops, one particle at a time (or the whole batch in
//! shared-step mode).

use crate::error::{Error, Result};
use crate::flow::config::{FlowConfig, FlowResult, LogDensity};
use crate::flow::eval::{
    eval, eval_divergence_central, eval_divergence_exact, eval_divergence_hutchinson,
};
use crate::flow::model::VelocityField;
use crate::flow::tableau::Tableau;

/// Fixed Rademacher probe of particle `p` (component k), shared with the GPU kernel.
pub fn probe(seed: u64, particle: usize, dim: usize) -> Vec<f64> {
    let key = crate::rng::seed_key(seed);
    (0..dim)
        .map(|k| {
            let words =
                crate::rng::philox4x32_10([particle as u32, (k / 4) as u32, 0x6875_7463, 0], key);
            if words[k % 4] & 1 == 0 {
                1.0
            } else {
                -1.0
            }
        })
        .collect()
}

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

/// Hairer's initial step (Solving ODEs I, II.4), as torchdiffeq's `_select_initial_step`.
fn initial_step(
    sys: &mut System<'_>,
    t0: f64,
    y0: &[f64],
    f0: &[f64],
    dir: f64,
    config: &FlowConfig,
) -> f64 {
    let (order, rtol, atol) = (config.solver.order(), config.rtol, config.atol);
    let scaled = |v: &[f64]| -> f64 {
        let s: f64 = v
            .iter()
            .zip(y0)
            .map(|(x, y)| (x / (atol + y.abs() * rtol)).powi(2))
            .sum();
        (s / v.len() as f64).sqrt()
    };
    let (d0, d1) = (scaled(y0), scaled(f0));
    let h0 = hairer_probe(d0, d1);
    let y1: Vec<f64> = y0.iter().zip(f0).map(|(y, f)| y + dir * h0 * f).collect();
    let f1 = sys.rhs(t0 + dir * h0, &y1);
    let diff: Vec<f64> = f1.iter().zip(f0).map(|(a, b)| a - b).collect();
    hairer_step(h0, d1, scaled(&diff) / h0, order)
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

struct Trajectory {
    saves: Vec<Vec<f64>>,
    evaluations: u32,
    accepted: u32,
    rejected: u32,
    capped: bool,
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

fn integrate_one(
    sys: &mut System<'_>,
    tab: &Tableau,
    config: &FlowConfig,
    y0: Vec<f64>,
) -> Trajectory {
    let times = config.save_times();
    let (t0, t1) = (config.t0, config.t1);
    let dir = (t1 - t0).signum();
    let mut saves = Vec::new();
    let mut next = 0;
    while next < times.len() && times[next] == t0 {
        saves.push(y0.clone());
        next += 1;
    }
    let (mut t, mut y) = (t0, y0);
    let mut k1 = sys.rhs(t, &y);
    let (mut accepted, mut rejected, mut capped) = (0u32, 0u32, false);
    if config.solver.is_adaptive() {
        let err_w = tab.error.clone().unwrap_or_default();
        let mut h = dir * initial_step(sys, t, &y, &k1, dir, config);
        while dir * (t1 - t) > 0.0 {
            if (accepted + rejected) as usize >= config.max_steps {
                capped = true;
                break;
            }
            // A step that would leave less than 1% of itself before t1 is stretched to t1:
            // rounding must not leave a sliver of a step at the end.
            let last = dir * (t1 - (t + h)) <= 0.01 * h.abs();
            let step = if last { t1 - t } else { h };
            let k = stages(tab, sys, t, &y, step, k1.clone());
            let y_new = axpy(&y, step, &tab.b, &k);
            let err = axpy(&vec![0.0; y.len()], step, &err_w, &k);
            let norm = error_norm(&err, &y, &y_new, config.rtol, config.atol);
            if norm <= 1.0 {
                let f_new = k[tab.stages() - 1].clone();
                save_in_step(
                    &times,
                    &mut next,
                    &mut saves,
                    t,
                    step,
                    StepEnds {
                        y0: &y,
                        f0: &k1,
                        y1: &y_new,
                        f1: Some(&f_new),
                    },
                );
                t = if last { t1 } else { t + step };
                y = y_new;
                k1 = f_new;
                accepted += 1;
            } else {
                rejected += 1;
            }
            h = step * step_factor(norm);
        }
    } else {
        let n = config.steps;
        let h = (t1 - t0) / n as f64;
        for s in 0..n {
            let t_next = if s + 1 == n {
                t1
            } else {
                t0 + (s + 1) as f64 * h
            };
            let step = t_next - t;
            let k = stages(tab, sys, t, &y, step, k1.clone());
            let y_new = axpy(&y, step, &tab.b, &k);
            // The derivative at the new point is the next step's first stage; it is only
            // needed now if a save time lies strictly inside this step.
            let inside = next < times.len() && dir * (times[next] - t_next) < 0.0;
            let f_new = if inside || s + 1 < n {
                Some(sys.rhs(t_next, &y_new))
            } else {
                None
            };
            save_in_step(
                &times,
                &mut next,
                &mut saves,
                t,
                step,
                StepEnds {
                    y0: &y,
                    f0: &k1,
                    y1: &y_new,
                    f1: f_new.as_deref(),
                },
            );
            t = t_next;
            y = y_new;
            if let Some(f) = f_new {
                k1 = f;
            }
            accepted += 1;
        }
    }
    Trajectory {
        saves,
        evaluations: sys.evaluations,
        accepted,
        rejected,
        capped,
    }
}

/// Integrates `particles` (N × d, row-major) through `field` on the CPU in f64.
/// `cond` is the conditioning vector (empty when the field has none).
pub fn integrate_cpu(
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    config: &FlowConfig,
) -> Result<FlowResult> {
    integrate_cpu_populations(field, particles, cond, &[], config)
}

/// Integrates particles of several populations at once: `cond` holds one conditioning
/// vector per population (P × c values) and `population` each particle's population
/// (empty: one population, every particle reads `cond`).
pub fn integrate_cpu_populations(
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
    config: &FlowConfig,
) -> Result<FlowResult> {
    config.validate()?;
    let d = field.dim;
    validate_particles(field, particles, cond, population)?;
    validate_mode(field, config.log_density)?;
    if config.shared_step && config.solver.is_adaptive() {
        return crate::flow::shared::integrate_shared_cpu(
            field, particles, cond, population, config,
        );
    }
    let n = particles.len() / d;
    let tab = config.solver.tableau();
    let cond: Vec<f64> = cond.iter().map(|&v| f64::from(v)).collect();
    let times = config.save_times();
    let logp = config.log_density != LogDensity::Off;
    let mut states = vec![0.0f32; times.len() * n * d];
    let mut change = vec![0.0f32; times.len() * n];
    let (mut evaluations, mut accepted, mut rejected, mut capped) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in 0..n {
        let mut y0: Vec<f64> = particles[p * d..(p + 1) * d]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        if logp {
            y0.push(0.0);
        }
        let mut sys = System {
            field,
            cond: population_cond(&cond, population, field.cond_dim, p),
            mode: config.log_density,
            probe: probe(config.seed, p, d),
            central_step: config.central_step,
            evaluations: 0,
        };
        let traj = integrate_one(&mut sys, &tab, config, y0);
        for (k, save) in traj.saves.iter().enumerate() {
            for i in 0..d {
                states[(k * n + p) * d + i] = save[i] as f32;
            }
            if logp {
                change[k * n + p] = save[d] as f32;
            }
        }
        evaluations.push(traj.evaluations);
        accepted.push(traj.accepted);
        rejected.push(traj.rejected);
        if traj.capped {
            capped.push(p);
        }
    }
    Ok(FlowResult {
        times,
        particles: n,
        dim: d,
        states,
        log_density_change: logp.then_some(change),
        evaluations,
        accepted,
        rejected,
        capped,
    })
}

/// The conditioning vector particle `p` reads.
pub(crate) fn population_cond<'a>(
    cond: &'a [f64],
    population: &[u32],
    cond_dim: usize,
    p: usize,
) -> &'a [f64] {
    let k = population.get(p).map_or(0, |&k| k as usize);
    &cond[k * cond_dim..(k + 1) * cond_dim]
}

/// Refuses log-density modes that need tangents of a gradient field (second derivatives).
pub(crate) fn validate_mode(field: &VelocityField, mode: LogDensity) -> Result<()> {
    if field.scalar && matches!(mode, LogDensity::Exact | LogDensity::Hutchinson) {
        return Err(Error::invalid(
            "the field is the gradient of a scalar network; its divergence needs second \
             derivatives, which the exact and Hutchinson modes do not take: use the central \
             log-density (LogDensity::Central, --logp central)",
        ));
    }
    Ok(())
}

/// Checks particles, conditioning vectors and populations against the field.
pub(crate) fn validate_particles(
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
) -> Result<()> {
    let d = field.dim;
    if particles.is_empty() {
        return Err(Error::invalid("no particles to integrate"));
    }
    if !particles.len().is_multiple_of(d) {
        return Err(Error::invalid(format!(
            "{} coordinates do not form particles of dimension {d} (the model's dimension)",
            particles.len()
        )));
    }
    if let Some(k) = particles.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "particle {} has a non-finite coordinate ({})",
            k / d,
            particles[k]
        )));
    }
    if population.is_empty() {
        if cond.len() != field.cond_dim {
            return Err(Error::invalid(format!(
                "the model takes a conditioning vector of length {} but {} values were given",
                field.cond_dim,
                cond.len()
            )));
        }
        return Ok(());
    }
    let c = field.cond_dim;
    if c == 0 {
        return Err(Error::invalid(
            "populations were given but the model takes no conditioning vector",
        ));
    }
    if cond.is_empty() || !cond.len().is_multiple_of(c) {
        return Err(Error::invalid(format!(
            "{} conditioning values do not form vectors of length {c} (one per population)",
            cond.len()
        )));
    }
    let n = particles.len() / d;
    if population.len() != n {
        return Err(Error::invalid(format!(
            "{} population indices for {n} particles; give one per particle",
            population.len()
        )));
    }
    let count = cond.len() / c;
    if count > 1 << 24 {
        return Err(Error::invalid(format!(
            "{count} populations; at most 2^24 are supported"
        )));
    }
    if let Some(p) = population.iter().position(|&k| k as usize >= count) {
        return Err(Error::invalid(format!(
            "particle {p} belongs to population {} but only {count} conditioning vectors were given",
            population[p]
        )));
    }
    if let Some(k) = cond.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "conditioning vector {} has a non-finite value",
            k / c
        )));
    }
    Ok(())
}
