//! The GPU driver of `shaders/flow/integrate.wgsl`: splits the particles into chunks
//! that fit a binding, keeps each resident (`flow::resident`), and dispatches rounds over
//! the particles still running until all have finished (or hands the chunk to the
//! shared-step mode).

use crate::error::{Error, Result};
use crate::flow::config::{FlowConfig, FlowResult, LogDensity};
use crate::flow::inputs::{validate_mode, validate_particles};
use crate::flow::model::VelocityField;
use crate::flow::resident::Resident;
use crate::gpu::{GpuBuffer, GpuContext};

/// Integrates `particles` (N × d, row-major) through `field` on the GPU. `cond` is the
/// conditioning vector (empty when the field has none).
pub fn integrate(
    ctx: &GpuContext,
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    config: &FlowConfig,
) -> Result<FlowResult> {
    integrate_populations(ctx, field, particles, cond, &[], config)
}

/// Integrates particles of several populations in one batch: `cond` holds one
/// conditioning vector per population (P × c values), `population` each particle's
/// population (empty: one population).
pub fn integrate_populations(
    ctx: &GpuContext,
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
    config: &FlowConfig,
) -> Result<FlowResult> {
    run(ctx, field, particles, (cond, population), config, None)
}

/// Progress of an integration: `(particles finished, particles)`. An error stops the run
/// and is returned.
pub type FlowProgress<'a> = &'a mut dyn FnMut(u64, u64) -> Result<()>;

/// [`integrate_populations`], calling `progress(finished, total)` after every round of
/// dispatches (the host reads the count of running particles there anyway), so a caller
/// can show progress or stop a long run.
pub fn integrate_with_progress(
    ctx: &GpuContext,
    field: &VelocityField,
    particles: &[f32],
    (cond, population): (&[f32], &[u32]),
    config: &FlowConfig,
    progress: FlowProgress<'_>,
) -> Result<FlowResult> {
    run(
        ctx,
        field,
        particles,
        (cond, population),
        config,
        Some(progress),
    )
}

fn run(
    ctx: &GpuContext,
    field: &VelocityField,
    particles: &[f32],
    (cond, population): (&[f32], &[u32]),
    config: &FlowConfig,
    mut progress: Option<FlowProgress<'_>>,
) -> Result<FlowResult> {
    config.validate()?;
    field.validate()?;
    validate_particles(field, particles, cond, population)?;
    validate_mode(field, config.log_density)?;

    let d = field.dim;
    let n = particles.len() / d;
    let logp = config.log_density != LogDensity::Off;
    let aug = d + usize::from(logp);
    let times = config.save_times();
    // Particles per chunk: the largest per-particle buffer (the saved states) must fit
    // one binding.
    let per_particle = 4 * (times.len() * aug).max(2 * aug) as u64;
    let chunk = ((ctx.max_binding_bytes() / per_particle) as usize).clamp(1, n);
    let mut parts = Vec::new();
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        let chunk_population = if population.is_empty() {
            &[][..]
        } else {
            &population[start..end]
        };
        let mut report = |finished: usize| -> Result<()> {
            match progress.as_deref_mut() {
                Some(report) => report((start + finished) as u64, n as u64),
                None => Ok(()),
            }
        };
        parts.push(integrate_chunk(
            ctx,
            field,
            &particles[start * d..end * d],
            (cond, chunk_population),
            config,
            start,
            &mut report,
        )?);
    }
    Ok(merge(parts, &times, d, logp))
}

fn merge(parts: Vec<FlowResult>, times: &[f64], d: usize, logp: bool) -> FlowResult {
    let n: usize = parts.iter().map(|p| p.particles).sum();
    let mut out = FlowResult {
        times: times.to_vec(),
        particles: n,
        dim: d,
        states: vec![0.0; times.len() * n * d],
        log_density_change: logp.then(|| vec![0.0; times.len() * n]),
        evaluations: Vec::with_capacity(n),
        accepted: Vec::with_capacity(n),
        rejected: Vec::with_capacity(n),
        capped: Vec::new(),
    };
    let mut offset = 0;
    for part in parts {
        for k in 0..times.len() {
            let src = &part.states[k * part.particles * d..(k + 1) * part.particles * d];
            out.states[(k * n + offset) * d..(k * n + offset + part.particles) * d]
                .copy_from_slice(src);
            if let (Some(dst), Some(src)) = (&mut out.log_density_change, &part.log_density_change)
            {
                dst[k * n + offset..k * n + offset + part.particles]
                    .copy_from_slice(&src[k * part.particles..(k + 1) * part.particles]);
            }
        }
        out.evaluations.extend(part.evaluations);
        out.accepted.extend(part.accepted);
        out.rejected.extend(part.rejected);
        out.capped.extend(part.capped.iter().map(|p| p + offset));
        offset += part.particles;
    }
    out
}

fn integrate_chunk(
    ctx: &GpuContext,
    field: &VelocityField,
    particles: &[f32],
    inputs: (&[f32], &[u32]),
    config: &FlowConfig,
    first_index: usize,
    report: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<FlowResult> {
    let mut res = Resident::new(ctx, field, particles, inputs, config, first_index)?;
    if config.shared_step {
        let result = crate::flow::shared_step::run_shared(ctx, &mut res, config)?;
        report(res.n)?;
        return Ok(result);
    }
    run_rounds(ctx, &mut res, config, report)?;
    Ok(res.collect(ctx)?.0)
}

/// Dispatches rounds over the particles still running until none is.
fn run_rounds(
    ctx: &GpuContext,
    res: &mut Resident,
    config: &FlowConfig,
    report: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<()> {
    let n = res.n;
    let mut lists: Vec<u32> = (0..n as u32).collect();
    lists.resize(2 * n, 0);
    let lists = GpuBuffer::from_slice(ctx, &lists, "morphogen.flow.lists")?;
    let counter = GpuBuffer::<u32>::zeroed(ctx, 1, "morphogen.flow.counter")?;
    let (kernel, group) = res.kernel(ctx, false, [&lists, &counter])?;
    let max_dim = ctx.limits().max_compute_workgroups_per_dimension;
    let mut active = n;
    let mut rounds = 0usize;
    while active > 0 {
        rounds += 1;
        if rounds > config.max_steps / res.params.budget.max(1) as usize + 3 {
            return Err(Error::Gpu {
                context: "integrating particles".into(),
                message: format!("{active} particles still running after {rounds} rounds"),
            });
        }
        res.params.count = active as u32;
        res.flow.write(ctx, &[res.params])?;
        counter.write(ctx, &[0])?;
        let mut rec = ctx.recorder("morphogen.flow.integrate");
        rec.dispatch(&kernel, &group, res.grid(active, max_dim));
        let pending = rec.read(&counter)?;
        rec.submit()?;
        active = pending.wait(ctx)?[0] as usize;
        report(n - active)?;
        let p = &mut res.params;
        std::mem::swap(&mut p.read_offset, &mut p.write_offset);
    }
    Ok(())
}
