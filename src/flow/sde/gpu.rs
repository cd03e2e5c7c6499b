//! The GPU driver of `shaders/flow/sde.wgsl`: packs each branch's networks into a
//! weight array of its own, generates each branch's network code for its shapes (branches of equal
//! shapes share a pipeline), keeps the particles resident, and records the whole schedule
//! (pieces of at most a budget of steps, a dispatch per branch, each with its own
//! parameter block) in one submission per segment; the host reads back only to resample.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::flow::codes;
use crate::flow::inputs::validate_particles;
use crate::flow::model::VelocityField;
use crate::flow::network_kernel::{roles_source, NetworkShape};
use crate::flow::pack::{time_input, PackedWeights};
use crate::flow::private_rows::sde_state_source;
use crate::flow::resident::{state_define, MESA_HINT};
use crate::flow::sde::config::{Branch, Diffusion, Growth, SdeConfig, SdeResult, SdeSolver};
use crate::flow::sde::reference::{assemble, initial_state};
use crate::flow::sde::weights::{maybe_resample, Layout};
use crate::gpu::{GpuBuffer, GpuContext, Grid, KernelDesc};

const WG: u32 = 64;
/// Steps per invocation per dispatch.
const BUDGET: usize = 64;
const NO_SAVE: u32 = u32::MAX;

/// One dispatch's parameters, padded to the 256-byte dynamic-offset block. Mirrors `Sde`
/// in sde.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SdeParams {
    count: u32,
    particles: u32,
    rows: u32,
    dim: u32,
    aug: u32,
    solver: u32,
    growth: u32,
    bridge: u32,
    steps: u32,
    step_index: u32,
    save_slot: u32,
    seed_lo: u32,
    seed_hi: u32,
    index_offset: u32,
    cond_dim: u32,
    pop_offset: u32,
    branch: u32,
    slots: u32,
    t: f32,
    h: f32,
    sigma: f32,
    _pad: [u32; 3],
    roles: [Role; 3],
    _tail: [u32; 16],
}

/// One network of a branch as the kernel sees it (`Role` in sde.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Role {
    weight_base: u32,
    present: u32,
    gradient: u32,
    time_pos: u32,
    emb_dim: u32,
    time_scale: f32,
    emb_period: f32,
    _pad: u32,
}

fn role(net: Option<&VelocityField>, weight_base: u32) -> Role {
    let Some(f) = net else {
        return Role::zeroed();
    };
    let (time_pos, emb_dim, emb_period) = time_input(f);
    Role {
        weight_base,
        present: 1,
        gradient: u32::from(f.scalar),
        time_pos,
        emb_dim,
        time_scale: f.time_scale,
        emb_period,
        _pad: 0,
    }
}

/// Simulates `particles` (N × d) through every branch on the GPU: each branch starts
/// from all N particles with its initial weight. `cond` and `population` as in
/// [`crate::flow::integrate_populations`] (empty when the networks take no condition).
pub fn simulate(
    ctx: &GpuContext,
    branches: &[Branch],
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
    config: &SdeConfig,
) -> Result<SdeResult> {
    run(ctx, branches, (particles, cond, population), config, None)
}

/// [`simulate`], calling `progress(done, total)` in particle-steps (every branch
/// counted) after each save time of each chunk; it waits for the GPU there, once per
/// save time. An error from `progress` (an interrupt, say) stops the run and is returned.
pub fn simulate_with_progress(
    ctx: &GpuContext,
    branches: &[Branch],
    particles: &[f32],
    (cond, population): (&[f32], &[u32]),
    config: &SdeConfig,
    progress: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<SdeResult> {
    run(
        ctx,
        branches,
        (particles, cond, population),
        config,
        Some(progress),
    )
}

fn run(
    ctx: &GpuContext,
    branches: &[Branch],
    (particles, cond, population): (&[f32], &[f32], &[u32]),
    config: &SdeConfig,
    mut progress: Option<&mut dyn FnMut(u64, u64) -> Result<()>>,
) -> Result<SdeResult> {
    config.validate(branches)?;
    validate_particles(&branches[0].velocity, particles, cond, population)?;
    let d = branches[0].velocity.dim;
    let n = particles.len() / d;
    let k = branches.len();
    let weighted = config.weighted(branches);
    let aug = d + usize::from(weighted);
    let saves = config.save_times().len();
    // Invocations per chunk: the saved states of a chunk must fit one binding.
    let per_particle = (4 * aug * saves.max(1) * k) as u64;
    let chunk = ((ctx.max_binding_bytes() / per_particle) as usize).clamp(1, n);
    let layout = Layout { n, aug, d };
    let segments = config.schedule();
    let total_steps: usize = segments.iter().map(|s| s.steps).sum();
    let total = (total_steps * n * k) as u64;
    let mut done = 0u64;
    let watching = progress.is_some();
    let mut report = |steps: usize, particles: usize| -> Result<()> {
        if let Some(report) = progress.as_deref_mut() {
            done += (steps * particles * k) as u64;
            report(done, total)?;
        }
        Ok(())
    };
    let ranges: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(chunk)
        .map(|start| start..(start + chunk).min(n))
        .collect();
    let prepare = |range: &std::ops::Range<usize>| {
        let part = Chunk {
            particles: &particles[range.start * d..range.end * d],
            population: if population.is_empty() {
                &[]
            } else {
                &population[range.clone()]
            },
            first_index: range.start,
        };
        prepare_chunk(ctx, branches, part, cond, config)
    };
    let mut saved = vec![0.0f32; saves * k * n * aug];
    let mut resampled = Vec::new();
    // Scatters a chunk's saves (saves × k × m × aug) into the whole.
    let mut keep = |range: &std::ops::Range<usize>, chunk_saved: &[f32]| {
        let m = range.len();
        for s in 0..saves {
            for b in 0..k {
                let src = ((s * k + b) * m) * aug;
                let dst = ((s * k + b) * n + range.start) * aug;
                saved[dst..dst + m * aug].copy_from_slice(&chunk_saved[src..src + m * aug]);
            }
        }
    };
    match config.resample_below.filter(|_| weighted) {
        None => {
            // One chunk at a time, so only one is resident.
            for range in &ranges {
                let run = prepare(range)?;
                for (i, seg) in segments.iter().enumerate() {
                    let submitted = run.submit_segment(ctx, i)?;
                    if watching {
                        submitted.wait(ctx)?;
                    }
                    report(seg.steps, range.len())?;
                }
                keep(range, &run.saved(ctx)?);
            }
        }
        Some(fraction) => {
            // Every chunk resident: resampling draws from all the particles of a branch.
            let runs = ranges.iter().map(prepare).collect::<Result<Vec<_>>>()?;
            for (i, seg) in segments.iter().enumerate() {
                for run in &runs {
                    run.submit_segment(ctx, i)?;
                }
                let mut state = vec![0.0f32; k * n * aug];
                for (run, range) in runs.iter().zip(&ranges) {
                    let part = run.state(ctx)?;
                    for b in 0..k {
                        let m = range.len();
                        state[(b * n + range.start) * aug..(b * n + range.end) * aug]
                            .copy_from_slice(&part[b * m * aug..(b + 1) * m * aug]);
                    }
                }
                let mut changed = false;
                for b in 0..k {
                    let how = (config.growth, fraction, config.seed, seg.save);
                    if maybe_resample(&mut state, layout, b, how, |v| v as f32) {
                        resampled.push((seg.save, b));
                        changed = true;
                    }
                }
                if changed {
                    for (run, range) in runs.iter().zip(&ranges) {
                        let m = range.len();
                        let part: Vec<f32> = (0..k)
                            .flat_map(|b| {
                                state[(b * n + range.start) * aug..(b * n + range.end) * aug]
                                    .iter()
                                    .copied()
                            })
                            .collect();
                        debug_assert_eq!(part.len(), k * m * aug);
                        run.set_state(ctx, &part)?;
                    }
                }
                report(seg.steps, n)?;
            }
            for (run, range) in runs.iter().zip(&ranges) {
                keep(range, &run.saved(ctx)?);
            }
        }
    }
    Ok(assemble(
        &saved,
        (config, k, layout, weighted),
        resampled,
        total_steps,
    ))
}

struct Chunk<'a> {
    particles: &'a [f32],
    population: &'a [u32],
    first_index: usize,
}

/// One chunk of particles resident on the GPU with each branch's kernel and bind group
/// and the parameter blocks of every segment's dispatches.
struct ChunkRun {
    /// Per branch: the kernel generated for its networks' shapes, and its bind group.
    kernels: Vec<(std::sync::Arc<crate::gpu::Kernel>, wgpu::BindGroup)>,
    /// Parameter blocks of each segment (a block per piece and branch, branch-minor).
    pieces_of: Vec<std::ops::Range<usize>>,
    grid: Grid,
    ys: GpuBuffer<f32>,
    saved: GpuBuffer<f32>,
    // Bound resources, kept alive with the bind groups (each branch has its weights).
    _bound: (GpuBuffer<SdeParams>, Vec<GpuBuffer<f32>>, GpuBuffer<f32>),
}

impl ChunkRun {
    /// Submits the dispatches of segment `i` (no wait).
    fn submit_segment(&self, ctx: &GpuContext, i: usize) -> Result<crate::gpu::Submitted> {
        let stride = std::mem::size_of::<SdeParams>() as u32;
        let branches = self.kernels.len();
        let mut rec = ctx.recorder("morphogen.sde.segment");
        for block in self.pieces_of[i].clone() {
            let (kernel, group) = &self.kernels[block % branches];
            rec.dispatch_at(kernel, group, &[block as u32 * stride], self.grid);
        }
        rec.submit()
    }

    /// The current states (branches × particles × aug).
    fn state(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        self.ys.read(ctx)
    }

    fn set_state(&self, ctx: &GpuContext, state: &[f32]) -> Result<()> {
        self.ys.write(ctx, state)
    }

    /// The saved states (saves × branches × particles × aug).
    fn saved(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        self.saved.read(ctx)
    }
}

/// Packs the networks and uploads one chunk's particles, parameters and tables.
fn prepare_chunk(
    ctx: &GpuContext,
    branches: &[Branch],
    part: Chunk<'_>,
    cond: &[f32],
    config: &SdeConfig,
) -> Result<ChunkRun> {
    let d = branches[0].velocity.dim;
    let n = part.particles.len() / d;
    let k = branches.len();
    let weighted = config.weighted(branches);
    let aug = d + usize::from(weighted);
    let segments = config.schedule();
    let slots = config.slots_for(aug);

    // Each branch's networks in their own weight array, so each fits the uniform block
    // where one table of every branch would not (a storage read costs twice as much).
    let packed: Vec<(PackedWeights, [u32; 3])> = branches
        .iter()
        .map(|b| {
            let present: Vec<&VelocityField> = b.nets().into_iter().flatten().collect();
            let (weights, offsets) = PackedWeights::pack(&present);
            let mut next = offsets.into_iter();
            let bases = b.nets().map(|f| f.and_then(|_| next.next()).unwrap_or(0));
            (weights, bases)
        })
        .collect();
    let shapes: Vec<[Option<NetworkShape>; 3]> = branches
        .iter()
        .map(|b| {
            let [v, s, g] = b.nets().map(|f| f.map(|f| NetworkShape::of(f, slots)));
            Ok([v.transpose()?, s.transpose()?, g.transpose()?])
        })
        .collect::<Result<_>>()?;
    let budget = step_budget(ctx, &shapes, config, aug)?;

    // Parameter blocks: the pieces of every segment, one per branch.
    let [seed_lo, seed_hi] = crate::rng::seed_key(config.seed);
    let template = SdeParams {
        count: n.div_ceil(slots) as u32,
        particles: n as u32,
        rows: (k * n) as u32,
        dim: d as u32,
        aug: aug as u32,
        solver: match config.solver {
            SdeSolver::EulerMaruyama => codes::SDE_EULER_MARUYAMA,
            SdeSolver::Sra1 => codes::SDE_SRA1,
        },
        growth: match (weighted, config.growth) {
            (false, _) => codes::GROWTH_NONE,
            (true, Growth::LogWeight) => codes::GROWTH_LOG_WEIGHT,
            (true, Growth::Additive) => codes::GROWTH_ADDITIVE,
        },
        bridge: u32::from(matches!(config.diffusion, Diffusion::Bridge(_))),
        seed_lo,
        seed_hi,
        index_offset: (config.particle_offset + part.first_index) as u32,
        cond_dim: branches[0].velocity.cond_dim as u32,
        pop_offset: if part.population.is_empty() {
            0
        } else {
            cond.len() as u32
        },
        slots: slots as u32,
        sigma: config.diffusion.scale() as f32,
        save_slot: NO_SAVE,
        ..SdeParams::zeroed()
    };
    let roles: Vec<[Role; 3]> = branches
        .iter()
        .zip(&packed)
        .map(|(b, (_, bases))| {
            let nets = b.nets();
            [0, 1, 2].map(|r| role(nets[r], bases[r]))
        })
        .collect();
    let mut blocks = Vec::new();
    let mut pieces_of = Vec::with_capacity(segments.len());
    for seg in &segments {
        let first = blocks.len();
        let mut s = 0;
        loop {
            let steps = (seg.steps - s).min(budget);
            let last = s + steps == seg.steps;
            for (branch, roles) in roles.iter().enumerate() {
                blocks.push(SdeParams {
                    steps: steps as u32,
                    step_index: (seg.first_step + s) as u32,
                    save_slot: if last { seg.save as u32 } else { NO_SAVE },
                    t: seg.time(s) as f32,
                    h: seg.h as f32,
                    branch: branch as u32,
                    roles: *roles,
                    ..template
                });
            }
            s += steps;
            if last {
                break;
            }
        }
        pieces_of.push(first..blocks.len());
    }

    let params = GpuBuffer::uniform_slice(ctx, &blocks, "morphogen.sde.params")?;
    let mut consts = cond.to_vec();
    consts.extend(part.population.iter().map(|&p| p as f32));
    consts.push(0.0);
    let consts = GpuBuffer::from_slice(ctx, &consts, "morphogen.sde.consts")?;
    let state0: Vec<f32> = initial_state(k, part.particles, d, weighted, config)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let ys = GpuBuffer::from_slice(ctx, &state0, "morphogen.sde.state")?;
    let saved = GpuBuffer::<f32>::zeroed(ctx, segments.len() * k * n * aug, "morphogen.sde.saved")?;
    let mut weights = Vec::with_capacity(k);
    let kernels = shapes
        .iter()
        .zip(&packed)
        .map(|(shape, (packed, _))| {
            let uniform = packed.uniform(ctx);
            let mut defines = vec![state_define(aug, d)?];
            if uniform {
                defines.push("WEIGHTS_UNIFORM");
            }
            let source = roles_source(shape, slots);
            let state = sde_state_source(slots, aug);
            let generated = [
                ("flow/roles", source.as_str()),
                ("flow/sde_state", state.as_str()),
            ];
            let kernel = ctx.kernel(
                &KernelDesc::new("flow/sde")
                    .dynamic(&["sde"])
                    .defines(&defines)
                    .overrides(&[("WG", f64::from(WG))])
                    .generated(&generated),
            )?;
            let branch_weights = packed.upload(ctx, "morphogen.sde")?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("sde", params.binding_range(0, 1)),
                    ("weights", branch_weights.binding()),
                    ("consts", consts.binding()),
                    ("ys", ys.binding()),
                    ("saved", saved.binding()),
                ],
            )?;
            weights.push(branch_weights);
            Ok((kernel, group))
        })
        .collect::<Result<Vec<_>>>()?;
    let grid = Grid::linear(
        n.div_ceil(slots) as u64,
        WG,
        ctx.limits().max_compute_workgroups_per_dimension,
    );
    Ok(ChunkRun {
        kernels,
        pieces_of,
        grid,
        ys,
        saved,
        _bound: (params, weights, consts),
    })
}

/// Steps per dispatch: the budget, or fewer where the driver stops an invocation after a
/// number of loop iterations.
fn step_budget(
    ctx: &GpuContext,
    shapes: &[[Option<NetworkShape>; 3]],
    config: &SdeConfig,
    aug: usize,
) -> Result<usize> {
    let Some(limit) = ctx.loop_limit() else {
        return Ok(BUDGET);
    };
    // The costliest branch: a potential's gradient takes one pass per coordinate.
    let d = aug as u64;
    let network = shapes
        .iter()
        .map(|roles| {
            roles
                .iter()
                .flatten()
                .map(|s| {
                    (s.loop_iterations() + 4 * s.width()) as u64 * if s.is_scalar() { d } else { 1 }
                })
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0);
    let slots = shapes
        .iter()
        .flatten()
        .flatten()
        .map(|s| s.slots as u64)
        .max()
        .unwrap_or(1);
    let per_step = config.solver.stages() as u64 * (network + 4 * slots * d) + 4 * slots * d;
    if per_step > limit {
        return Err(Error::Unsupported {
            what: format!(
                "these networks: one step takes about {per_step} shader loop iterations, and \
                 this driver stops a shader after {limit} (Mesa's llvmpipe before 25 does)"
            ),
            hint: MESA_HINT.into(),
        });
    }
    Ok(BUDGET.min((limit / per_step) as usize).max(1))
}
