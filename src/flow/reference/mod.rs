//! The CPU f64 reference integrator: the GPU kernel's tableaus, step control, dense
//! output and log-density in plain loops, one particle at a time (`shared_step`: the
//! whole batch on one step size).

mod rk;
mod shared_step;

use crate::error::Result;
use crate::flow::config::{FlowConfig, FlowResult, LogDensity};
use crate::flow::inputs::{population_cond, validate_mode, validate_particles};
use crate::flow::model::VelocityField;
use crate::flow::step_control::{clip_to_end, error_norm, hairer_probe, hairer_step, step_factor};
use crate::flow::tableau::Tableau;
use rk::{axpy, save_in_step, stages, StepEnds, System};

pub use crate::flow::inputs::probe;

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

struct Trajectory {
    saves: Vec<Vec<f64>>,
    evaluations: u32,
    accepted: u32,
    rejected: u32,
    capped: bool,
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
            let (step, last) = clip_to_end(t, h, t1, dir);
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
        return shared_step::integrate_shared_cpu(field, particles, cond, population, config);
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
