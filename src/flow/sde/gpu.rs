//! The GPU driver of `shaders/flow/sde.wgsl`: packs every branch's networks into one
//! table, keeps the particles resident, and records the whole schedule (pieces of at
//! most a budget of steps, each with its own parameter block) in one submission per
//! segment; the host reads back only to resample.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::flow::gpu::{network_iterations, pack_all, state_define, time_input, NetworkParams};
use crate::flow::model::VelocityField;
use crate::flow::reference::validate_particles;
use crate::flow::sde::config::{Branch, Diffusion, Growth, SdeConfig, SdeResult, SdeSolver};
use crate::flow::sde::reference::{assemble, initial_state};
use crate::flow::sde::weights::{maybe_resample, Layout};
use crate::gpu::{Binding, GpuBuffer, GpuContext, Grid, KernelDesc};

const WG: u32 = 64;
/// Steps per invocation per dispatch.
const BUDGET: usize = 64;
const NO_SAVE: u32 = u32::MAX;

/// One dispatch's parameters, padded to the 256-byte dynamic-offset block.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SdeParams {
    count: u32,
    particles: u32,
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
    _pad0: u32,
    t: f32,
    h: f32,
    sigma: f32,
    _pad1: f32,
    _tail: [u32; 44],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct NetRef {
    first_layer: u32,
    layer_count: u32,
    scalar: u32,
    time_pos: u32,
    emb_dim: u32,
    time_scale: f32,
    emb_period: f32,
    _pad: u32,
}

fn net_ref(net: Option<&VelocityField>, first: u32) -> NetRef {
    let Some(f) = net else {
        return NetRef::zeroed();
    };
    let (time_pos, emb_dim, emb_period) = time_input(f);
    NetRef {
        first_layer: first,
        layer_count: f.layers.len() as u32,
        scalar: u32::from(f.scalar),
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
/// save time.
pub fn simulate_with_progress(
    ctx: &GpuContext,
    branches: &[Branch],
    particles: &[f32],
    (cond, population): (&[f32], &[u32]),
    config: &SdeConfig,
    progress: &mut dyn FnMut(u64, u64),
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
    mut progress: Option<&mut dyn FnMut(u64, u64)>,
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
    let mut report = |steps: usize, particles: usize| {
        if let Some(report) = progress.as_deref_mut() {
            done += (steps * particles * k) as u64;
            report(done, total);
        }
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
                    report(seg.steps, range.len());
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
                report(seg.steps, n);
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

/// One chunk of particles resident on the GPU with its kernel, bind group and the
/// parameter blocks of every segment's dispatches.
struct ChunkRun {
    kernel: std::sync::Arc<crate::gpu::Kernel>,
    group: wgpu::BindGroup,
    /// Parameter blocks of each segment.
    pieces_of: Vec<std::ops::Range<usize>>,
    grid: Grid,
    ys: GpuBuffer<f32>,
    saved: GpuBuffer<f32>,
    // Bound resources, kept alive with the bind group.
    _bound: (
        GpuBuffer<SdeParams>,
        GpuBuffer<NetworkParams>,
        GpuBuffer<f32>,
    ),
    _tables: (GpuBuffer<NetRef>, GpuBuffer<f32>),
}

impl ChunkRun {
    /// Submits the dispatches of segment `i` (no wait).
    fn submit_segment(&self, ctx: &GpuContext, i: usize) -> Result<crate::gpu::Submitted> {
        let stride = std::mem::size_of::<SdeParams>() as u32;
        let mut rec = ctx.recorder("morphogen.sde.segment");
        for block in self.pieces_of[i].clone() {
            rec.dispatch_at(
                &self.kernel,
                &self.group,
                &[block as u32 * stride],
                self.grid,
            );
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
    let count = k * n;
    let segments = config.schedule();

    // Networks shared by several branches (the same score network, say) are packed once.
    let all: Vec<Option<&VelocityField>> = branches.iter().flat_map(|b| b.nets()).collect();
    let mut unique: Vec<&VelocityField> = Vec::new();
    let slots: Vec<Option<usize>> = all
        .iter()
        .map(|f| {
            f.map(|f| {
                unique.iter().position(|u| *u == f).unwrap_or_else(|| {
                    unique.push(f);
                    unique.len() - 1
                })
            })
        })
        .collect();
    let (net, firsts) = pack_all(&unique)?;
    let refs: Vec<NetRef> = all
        .iter()
        .zip(&slots)
        .map(|(f, slot)| net_ref(*f, slot.map_or(0, |k| firsts[k])))
        .collect();
    let present = unique;
    let uniform_weights = net.uniform(ctx);
    let mut defines = vec![net.width_define, state_define(aug, d)?];
    if uniform_weights {
        defines.push("WEIGHTS_UNIFORM");
    }
    let budget = step_budget(ctx, &present, config, aug)?;

    // Parameter blocks: the pieces of every segment.
    let [seed_lo, seed_hi] = crate::rng::seed_key(config.seed);
    let template = SdeParams {
        count: count as u32,
        particles: n as u32,
        dim: d as u32,
        aug: aug as u32,
        solver: match config.solver {
            SdeSolver::EulerMaruyama => 0,
            SdeSolver::Sra1 => 1,
        },
        growth: match (weighted, config.growth) {
            (false, _) => 0,
            (true, Growth::LogWeight) => 1,
            (true, Growth::Additive) => 2,
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
        sigma: config.diffusion.scale() as f32,
        save_slot: NO_SAVE,
        ..SdeParams::zeroed()
    };
    let mut blocks = Vec::new();
    let mut pieces_of = Vec::with_capacity(segments.len());
    for seg in &segments {
        let first = blocks.len();
        let mut s = 0;
        loop {
            let steps = (seg.steps - s).min(budget);
            let last = s + steps == seg.steps;
            blocks.push(SdeParams {
                steps: steps as u32,
                step_index: (seg.first_step + s) as u32,
                save_slot: if last { seg.save as u32 } else { NO_SAVE },
                t: seg.time(s) as f32,
                h: seg.h as f32,
                ..template
            });
            s += steps;
            if last {
                break;
            }
        }
        pieces_of.push(first..blocks.len());
    }

    let params = GpuBuffer::uniform_slice(ctx, &blocks, "morphogen.sde.params")?;
    let (net_buf, weights) = net.upload(ctx, "morphogen.sde")?;
    let nets = GpuBuffer::from_slice(ctx, &refs, "morphogen.sde.nets")?;
    let mut consts = cond.to_vec();
    consts.extend(part.population.iter().map(|&p| p as f32));
    consts.push(0.0);
    let consts = GpuBuffer::from_slice(ctx, &consts, "morphogen.sde.consts")?;
    let state0: Vec<f32> = initial_state(k, part.particles, d, weighted, config)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let ys = GpuBuffer::from_slice(ctx, &state0, "morphogen.sde.state")?;
    let saved = GpuBuffer::<f32>::zeroed(ctx, segments.len() * count * aug, "morphogen.sde.saved")?;
    let kernel = ctx.kernel(
        &KernelDesc::new(
            "flow/sde",
            &[
                Binding::UniformDynamic,
                Binding::Uniform,
                if uniform_weights {
                    Binding::Uniform
                } else {
                    Binding::StorageRead
                },
                Binding::StorageRead,
                Binding::StorageRead,
                Binding::Storage,
                Binding::Storage,
            ],
        )
        .defines(&defines)
        .overrides(&[("WG", f64::from(WG))]),
    )?;
    let group = kernel.bind(
        ctx,
        &[
            params.binding_range(0, 1),
            net_buf.binding(),
            weights.binding(),
            nets.binding(),
            consts.binding(),
            ys.binding(),
            saved.binding(),
        ],
    )?;
    let grid = Grid::linear(
        count as u64,
        WG,
        ctx.limits().max_compute_workgroups_per_dimension,
    );
    Ok(ChunkRun {
        kernel,
        group,
        pieces_of,
        grid,
        ys,
        saved,
        _bound: (params, net_buf, weights),
        _tables: (nets, consts),
    })
}

/// Steps per dispatch: the budget, or fewer where the driver stops an invocation after a
/// number of loop iterations.
fn step_budget(
    ctx: &GpuContext,
    nets: &[&VelocityField],
    config: &SdeConfig,
    aug: usize,
) -> Result<usize> {
    let Some(limit) = ctx.loop_limit() else {
        return Ok(BUDGET);
    };
    let network: usize = nets
        .iter()
        .map(|f| network_iterations(f) * if f.scalar { f.dim } else { 1 })
        .sum();
    let per_step = (config.solver.stages() * (network + 4 * aug) + 4 * aug) as u64;
    if per_step > limit {
        return Err(Error::invalid(format!(
            "one step of these networks takes about {per_step} shader loop iterations, but \
             this driver stops a shader after {limit} (Mesa's llvmpipe before 25 does); \
             install Mesa 25 or newer or use a GPU"
        )));
    }
    Ok(BUDGET.min((limit / per_step) as usize).max(1))
}
