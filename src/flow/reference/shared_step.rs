//! The CPU f64 twin of the shared-step mode (`flow::shared_step`): one step size for the
//! whole batch from the RMS error over every particle and component.

use crate::error::Result;
use crate::flow::config::{FlowConfig, FlowResult, LogDensity};
use crate::flow::inputs::{population_cond, probe};
use crate::flow::model::VelocityField;
use crate::flow::reference::rk::{axpy, save_in_step, stages, StepEnds, System};
use crate::flow::step_control::{clip_to_end, hairer_probe, hairer_step, step_factor};

/// RMS over every particle and component of v / (atol + rtol |y|).
fn batch_rms(values: &[Vec<f64>], ys: &[Vec<f64>], rtol: f64, atol: f64) -> f64 {
    let mut sum = 0.0;
    let mut count = 0usize;
    for (v, y) in values.iter().zip(ys) {
        for (a, b) in v.iter().zip(y) {
            sum += (a / (atol + b.abs() * rtol)).powi(2);
            count += 1;
        }
    }
    (sum / count as f64).sqrt()
}

/// The CPU f64 twin of the GPU's shared-step integration (adaptive solvers).
pub(crate) fn integrate_shared_cpu(
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
    config: &FlowConfig,
) -> Result<FlowResult> {
    let d = field.dim;
    let n = particles.len() / d;
    let tab = config.solver.tableau();
    let err_w = tab.error.clone().unwrap_or_default();
    let cond: Vec<f64> = cond.iter().map(|&v| f64::from(v)).collect();
    let logp = config.log_density != LogDensity::Off;
    let times = config.save_times();
    let (t0, t1) = (config.t0, config.t1);
    let dir = (t1 - t0).signum();
    let mut systems: Vec<System<'_>> = (0..n)
        .map(|p| System {
            field,
            cond: population_cond(&cond, population, field.cond_dim, p),
            mode: config.log_density,
            probe: probe(config.seed, p, d),
            central_step: config.central_step,
            evaluations: 0,
        })
        .collect();
    let mut ys: Vec<Vec<f64>> = (0..n)
        .map(|p| {
            let mut y: Vec<f64> = particles[p * d..(p + 1) * d]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            if logp {
                y.push(0.0);
            }
            y
        })
        .collect();
    let mut saves: Vec<Vec<Vec<f64>>> = vec![Vec::new(); n];
    let mut next = vec![0usize; n];
    for p in 0..n {
        while next[p] < times.len() && times[next[p]] == t0 {
            saves[p].push(ys[p].clone());
            next[p] += 1;
        }
    }
    let mut k1: Vec<Vec<f64>> = systems
        .iter_mut()
        .zip(&ys)
        .map(|(s, y)| s.rhs(t0, y))
        .collect();
    // Hairer's initial step over the batch.
    let (rtol, atol) = (config.rtol, config.atol);
    let (d0, d1) = (
        batch_rms(&ys, &ys, rtol, atol),
        batch_rms(&k1, &ys, rtol, atol),
    );
    let h0 = hairer_probe(d0, d1);
    let diffs: Vec<Vec<f64>> = (0..n)
        .map(|p| {
            let y1: Vec<f64> = ys[p]
                .iter()
                .zip(&k1[p])
                .map(|(y, f)| y + dir * h0 * f)
                .collect();
            let f1 = systems[p].rhs(t0 + dir * h0, &y1);
            f1.iter().zip(&k1[p]).map(|(a, b)| a - b).collect()
        })
        .collect();
    let d2 = batch_rms(&diffs, &ys, rtol, atol) / h0;
    let mut h = dir * hairer_step(h0, d1, d2, config.solver.order());
    let (mut t, mut accepted, mut rejected, mut capped) = (t0, 0u32, 0u32, false);
    while dir * (t1 - t) > 0.0 {
        if (accepted + rejected) as usize >= config.max_steps {
            capped = true;
            break;
        }
        let (step, last) = clip_to_end(t, h, t1, dir);
        let mut sum = 0.0;
        let mut candidates = Vec::with_capacity(n);
        for p in 0..n {
            let k = stages(&tab, &mut systems[p], t, &ys[p], step, k1[p].clone());
            let y_new = axpy(&ys[p], step, &tab.b, &k);
            let err = axpy(&vec![0.0; ys[p].len()], step, &err_w, &k);
            for i in 0..err.len() {
                let scale = atol + rtol * ys[p][i].abs().max(y_new[i].abs());
                sum += (err[i] / scale).powi(2);
            }
            let f_new = k[tab.stages() - 1].clone();
            candidates.push((y_new, f_new));
        }
        let norm = (sum / (n * ys[0].len()) as f64).sqrt();
        if norm <= 1.0 {
            for (p, (y_new, f_new)) in candidates.into_iter().enumerate() {
                let ends = StepEnds {
                    y0: &ys[p],
                    f0: &k1[p],
                    y1: &y_new,
                    f1: Some(&f_new),
                };
                save_in_step(&times, &mut next[p], &mut saves[p], t, step, ends);
                ys[p] = y_new;
                k1[p] = f_new;
            }
            t = if last { t1 } else { t + step };
            accepted += 1;
        } else {
            rejected += 1;
        }
        h = step * step_factor(norm);
    }
    let mut states = vec![0.0f32; times.len() * n * d];
    let mut change = vec![0.0f32; times.len() * n];
    for (p, traj) in saves.iter().enumerate() {
        for (k, save) in traj.iter().enumerate() {
            for i in 0..d {
                states[(k * n + p) * d + i] = save[i] as f32;
            }
            if logp {
                change[k * n + p] = save[d] as f32;
            }
        }
    }
    Ok(FlowResult {
        times,
        particles: n,
        dim: d,
        states,
        log_density_change: logp.then_some(change),
        evaluations: systems.iter().map(|s| s.evaluations).collect(),
        accepted: vec![accepted; n],
        rejected: vec![rejected; n],
        capped: if capped { (0..n).collect() } else { Vec::new() },
    })
}
