//! Shared-step mode: one step size for the whole batch, accepted or rejected for all
//! particles from the RMS error over every particle and component, as torchdiffeq and
//! torchdyn do. Offered to compare against; per-particle steps are the default because a
//! shared step lets one hard particle set the pace of all, and dilutes its error in the
//! batch's RMS. The CPU twin is `flow::reference::shared_step`.

use crate::error::Result;
use crate::flow::codes::{PHASE_ATTEMPT, PHASE_COMMIT, PHASE_PROBE, PHASE_START};
use crate::flow::config::FlowConfig;
use crate::flow::config::FlowResult;
use crate::flow::resident::Resident;
use crate::flow::step_control::{clip_to_end, hairer_probe, hairer_step, step_factor};
use crate::gpu::{record_reduce, GpuBuffer, GpuContext, ReduceOp};

/// Runs the shared-step phases of the integrator kernel on a resident chunk.
pub(crate) fn run_shared(
    ctx: &GpuContext,
    res: &mut Resident,
    config: &FlowConfig,
) -> Result<FlowResult> {
    let (n, aug) = (res.n, res.aug);
    let errs = GpuBuffer::<f32>::zeroed(ctx, 2 * n, "morphogen.flow.shared_errs")?;
    let cand = GpuBuffer::<f32>::zeroed(ctx, 2 * n * aug, "morphogen.flow.shared_candidates")?;
    let (kernel, group) = res.kernel(ctx, true, [&errs, &cand])?;
    let max_dim = ctx.limits().max_compute_workgroups_per_dimension;
    let count = (n * aug) as f64;
    // Runs one phase for every particle; returns the two batch sums it leaves.
    let phase = |res: &mut Resident, phase: u32, t: f64, h: f64| -> Result<[f64; 2]> {
        res.params.count = n as u32;
        res.params.phase = phase;
        res.params.shared_t = t as f32;
        res.params.shared_h = h as f32;
        res.flow.write(ctx, &[res.params])?;
        let mut rec = ctx.recorder("morphogen.flow.shared");
        rec.dispatch(&kernel, &group, res.grid(n, max_dim));
        let sums = record_reduce(&mut rec, &errs, 2, n, ReduceOp::Sum)?;
        let pending = rec.read(&sums)?;
        rec.keep(sums);
        rec.submit()?;
        let v = pending.wait(ctx)?;
        Ok([f64::from(v[0]), f64::from(v[1])])
    };
    let (t0, t1) = (config.t0, config.t1);
    let dir = (t1 - t0).signum();
    let [s0, s1] = phase(res, PHASE_START, t0, 0.0)?;
    let (d0, d1) = ((s0 / count).sqrt(), (s1 / count).sqrt());
    let h0 = hairer_probe(d0, d1);
    let d2 = (phase(res, PHASE_PROBE, t0, dir * h0)?[0] / count).sqrt() / h0;
    let mut h = dir * hairer_step(h0, d1, d2, config.solver.order());
    let (mut t, mut accepted, mut rejected, mut capped) = (t0, 0u32, 0u32, false);
    while dir * (t1 - t) > 0.0 {
        if (accepted + rejected) as usize >= config.max_steps {
            capped = true;
            break;
        }
        let (step, last) = clip_to_end(t, h, t1, dir);
        let norm = (phase(res, PHASE_ATTEMPT, t, step)?[0] / count).sqrt();
        if norm <= 1.0 {
            phase(res, PHASE_COMMIT, t, step)?;
            t = if last { t1 } else { t + step };
            accepted += 1;
        } else {
            rejected += 1;
        }
        h = step * step_factor(norm);
    }
    let (mut result, _) = res.collect(ctx)?;
    result.accepted = vec![accepted; n];
    result.rejected = vec![rejected; n];
    result.capped = if capped { (0..n).collect() } else { Vec::new() };
    Ok(result)
}
