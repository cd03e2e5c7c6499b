//! A chunk of particles resident on the GPU for `shaders/flow/integrate.wgsl`: the
//! kernel's parameters, the packed network and tableau, the states and per-particle
//! records, and the kernel and bind group of each mode (per-particle rounds in
//! `flow::gpu`, shared steps in `flow::shared_step`).

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::flow::codes;
use crate::flow::config::{FlowConfig, FlowResult, LogDensity};
use crate::flow::model::VelocityField;
use crate::flow::network_kernel::NetworkShape;
use crate::flow::pack::{time_input, PackedWeights};
use crate::flow::private_rows::{integrate_state_source, state_variant};
use crate::gpu::{GpuBuffer, GpuContext, Grid, KernelDesc};

pub(crate) const WG: u32 = 64;
/// What to do when the driver's loop limit stops a flow kernel.
pub(crate) const MESA_HINT: &str = "install Mesa 25 or newer (Debian 12: bookworm-backports) \
     or use a GPU";
/// Step attempts per particle per dispatch of an adaptive solver.
const ADAPTIVE_BUDGET: u32 = 32;
/// Steps per particle per dispatch of a fixed-step solver.
const FIXED_BUDGET: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct FlowParams {
    pub count: u32,
    total: u32,
    dim: u32,
    aug: u32,
    cond_dim: u32,
    time_pos: u32,
    emb_dim: u32,
    logp: u32,
    adaptive: u32,
    stages: u32,
    fixed_steps: u32,
    max_steps: u32,
    pub budget: u32,
    saves: u32,
    seed_lo: u32,
    seed_hi: u32,
    pub read_offset: u32,
    pub write_offset: u32,
    cond_offset: u32,
    index_offset: u32,
    pop_offset: u32,
    fd_step: f32,
    slots: u32,
    _pad0: u32,
    t0: f32,
    t1: f32,
    rtol: f32,
    atol: f32,
    time_scale: f32,
    emb_period: f32,
    init_exponent: f32,
    _pad3: f32,
    c: [f32; 8],
    b: [f32; 8],
    e: [f32; 8],
    a: [f32; 24],
    pub shared_t: f32,
    pub shared_h: f32,
    pub phase: u32,
    _pad2: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Debug)]
pub(crate) struct Meta {
    pub t: f32,
    pub h: f32,
    pub next_save: u32,
    pub steps: u32,
    pub evaluations: u32,
    pub accepted: u32,
    pub rejected: u32,
    pub status: u32,
}

/// The kernel variant that holds `aug` state components (dimension `d` plus extras).
pub(crate) fn state_define(aug: usize, d: usize) -> Result<&'static str> {
    state_variant(aug).map(|(define, _)| define).ok_or_else(|| {
        Error::invalid(format!(
            "the flow kernels take states of at most 64 dimensions; this one has {d}"
        ))
    })
}

/// Step attempts per particle per dispatch: a fixed number, or fewer where the driver
/// stops an invocation after a number of loop iterations.
fn step_budget(
    ctx: &GpuContext,
    shape: &NetworkShape,
    field: &VelocityField,
    config: &FlowConfig,
    aug: usize,
    stages: u32,
) -> Result<u32> {
    let budget = if config.solver.is_adaptive() {
        ADAPTIVE_BUDGET
    } else {
        (config.steps as u32).min(FIXED_BUDGET)
    };
    let Some(limit) = ctx.loop_limit() else {
        return Ok(budget);
    };
    // Loop iterations of one network pass over every slot (the generated network's loops,
    // then the input and output loops over the slots), of one step, and of the start (two
    // evaluations), as the kernel's loops run them.
    let slots = shape.slots;
    let network = shape.loop_iterations() + slots * (2 * field.input_width() + field.dim + 4);
    // A scalar field's gradient costs d tangent passes; a central difference one pass per
    // side and coordinate.
    let gradient = if field.scalar { field.dim } else { 1 };
    let passes = match config.log_density {
        LogDensity::Exact => field.dim,
        LogDensity::Central => gradient + 2 * field.dim,
        _ => gradient,
    };
    let stages = stages as usize;
    let per_step =
        (stages * (network * passes + slots * aug * (stages + 2)) + 4 * slots * aug) as u64;
    let start = 2 * (network * passes) as u64 + 8 * (slots * aug) as u64;
    if start + per_step > limit {
        return Err(Error::Unsupported {
            what: format!(
                "this network: one step takes about {} shader loop iterations, and this \
                 driver stops a shader after {limit} (Mesa's llvmpipe before 25 does)",
                start + per_step
            ),
            hint: MESA_HINT.into(),
        });
    }
    Ok(budget.min(((limit - start) / per_step) as u32).max(1))
}

fn tableau_params(config: &FlowConfig) -> ([f32; 8], [f32; 8], [f32; 8], [f32; 24], u32) {
    let t = config.solver.tableau();
    let mut c = [0.0; 8];
    let mut b = [0.0; 8];
    let mut e = [0.0; 8];
    let mut a = [0.0; 24];
    for (i, v) in t.c.iter().enumerate() {
        c[i] = *v as f32;
    }
    for (i, v) in t.b.iter().enumerate() {
        b[i] = *v as f32;
    }
    for (i, v) in t.error.iter().flatten().enumerate() {
        e[i] = *v as f32;
    }
    for (i, v) in t.a.iter().enumerate() {
        a[i] = *v as f32;
    }
    (c, b, e, a, t.stages() as u32)
}

/// A chunk of particles and everything the kernel reads, resident on the GPU.
pub(crate) struct Resident {
    pub params: FlowParams,
    pub flow: GpuBuffer<FlowParams>,
    /// The generated `flow/net` snippet of the network's shape.
    net_source: String,
    /// The generated `flow/integrate_state` snippet (the slots' state rows).
    state_source: String,
    weights: GpuBuffer<f32>,
    consts: GpuBuffer<f32>,
    pub ys: GpuBuffer<f32>,
    pub metas: GpuBuffer<Meta>,
    saved: GpuBuffer<f32>,
    defines: Vec<&'static str>,
    pub n: usize,
    d: usize,
    pub aug: usize,
    times: Vec<f64>,
    logp: bool,
}

impl Resident {
    /// The kernel (per-particle or shared-step) and its bind group over these buffers
    /// and `extra` (the active lists and counter, or the shared sums and candidates).
    pub(crate) fn kernel(
        &self,
        ctx: &GpuContext,
        shared: bool,
        extra: [&GpuBuffer<impl Pod>; 2],
    ) -> Result<(std::sync::Arc<crate::gpu::Kernel>, wgpu::BindGroup)> {
        let mut defines = self.defines.clone();
        if shared {
            defines.push("SHARED");
        }
        let generated = [
            ("flow/net", self.net_source.as_str()),
            ("flow/integrate_state", self.state_source.as_str()),
        ];
        let kernel = ctx.kernel(
            &KernelDesc::new("flow/integrate")
                .defines(&defines)
                .overrides(&[("WG", f64::from(WG)), ("LOGP", f64::from(self.params.logp))])
                .generated(&generated),
        )?;
        let extra_names = if shared {
            ["errs", "cand"]
        } else {
            ["lists", "counter"]
        };
        let group = kernel.bind_named(
            ctx,
            &[
                ("flow", self.flow.binding()),
                ("weights", self.weights.binding()),
                ("consts", self.consts.binding()),
                ("ys", self.ys.binding()),
                ("metas", self.metas.binding()),
                ("saved", self.saved.binding()),
                (extra_names[0], extra[0].binding()),
                (extra_names[1], extra[1].binding()),
            ],
        )?;
        Ok((kernel, group))
    }

    /// The launch for `particles` particles, `slots` per invocation.
    pub(crate) fn grid(&self, particles: usize, max_dim: u32) -> Grid {
        Grid::linear(
            particles.div_ceil(self.params.slots as usize) as u64,
            WG,
            max_dim,
        )
    }

    /// Reads back the saved states and the per-particle records.
    pub(crate) fn collect(&self, ctx: &GpuContext) -> Result<(FlowResult, Vec<Meta>)> {
        let (n, d, aug) = (self.n, self.d, self.aug);
        let mut rec = ctx.recorder("morphogen.flow.results");
        let (metas_read, saved_read) = (rec.read(&self.metas)?, rec.read(&self.saved)?);
        rec.submit()?;
        let (metas, saved) = (metas_read.wait(ctx)?, saved_read.wait(ctx)?);
        let times = &self.times;
        let mut states = vec![0.0f32; times.len() * n * d];
        let mut change = vec![0.0f32; times.len() * n];
        for k in 0..times.len() {
            for p in 0..n {
                let src = (k * n + p) * aug;
                states[(k * n + p) * d..(k * n + p + 1) * d].copy_from_slice(&saved[src..src + d]);
                if self.logp {
                    change[k * n + p] = saved[src + d];
                }
            }
        }
        let result = FlowResult {
            times: times.clone(),
            particles: n,
            dim: d,
            states,
            log_density_change: self.logp.then_some(change),
            evaluations: metas.iter().map(|m| m.evaluations).collect(),
            accepted: metas.iter().map(|m| m.accepted).collect(),
            rejected: metas.iter().map(|m| m.rejected).collect(),
            capped: metas
                .iter()
                .enumerate()
                .filter(|(_, m)| m.status == codes::STATUS_CAPPED)
                .map(|(p, _)| p)
                .collect(),
        };
        Ok((result, metas))
    }

    /// Uploads one chunk of particles (`first_index`: its first particle's index in the
    /// whole set) with the network's weights, the tableau and the parameters.
    pub(crate) fn new(
        ctx: &GpuContext,
        field: &VelocityField,
        particles: &[f32],
        (cond, population): (&[f32], &[u32]),
        config: &FlowConfig,
        first_index: usize,
    ) -> Result<Self> {
        let d = field.dim;
        let n = particles.len() / d;
        let logp = config.log_density != LogDensity::Off;
        let aug = d + usize::from(logp);
        let dim_define = state_define(aug, d)?;
        let net = PackedWeights::pack(&[field]).0;
        let uniform_weights = net.uniform(ctx);
        let (time_pos, emb_dim, emb_period) = time_input(field);
        let mut defines = vec![dim_define];
        if uniform_weights {
            defines.push("WEIGHTS_UNIFORM");
        }
        let times = config.save_times();
        let (c, b, e, a, stages) = tableau_params(config);
        let [seed_lo, seed_hi] = crate::rng::seed_key(config.seed);
        let mut shape = NetworkShape::of(field, config.slots_for(aug))?;
        // Wide layers read their weights once per subgroup where the adapter allows (not
        // in browsers, whose WGSL would need `enable subgroups`).
        if let Some((smallest, _)) = ctx.subgroups() {
            let native = !cfg!(target_arch = "wasm32");
            if native && config.subgroups && smallest >= 4 && shape.has_wide_layer() {
                let lanes = (smallest as usize).min(16);
                shape = shape.with_lanes(1 << lanes.ilog2());
                defines.push("SUBGROUP_WEIGHTS");
            }
        }
        let net_source = shape.source();
        let state_source = integrate_state_source(shape.slots, aug);
        let params = FlowParams {
            count: n as u32,
            total: n as u32,
            dim: d as u32,
            aug: aug as u32,
            cond_dim: field.cond_dim as u32,
            time_pos,
            emb_dim,
            logp: match config.log_density {
                LogDensity::Off => codes::LOGP_OFF,
                LogDensity::Exact => codes::LOGP_EXACT,
                LogDensity::Hutchinson => codes::LOGP_HUTCHINSON,
                LogDensity::Central => codes::LOGP_CENTRAL,
            },
            adaptive: u32::from(config.solver.is_adaptive()),
            stages,
            fixed_steps: config.steps as u32,
            max_steps: config.max_steps as u32,
            budget: step_budget(ctx, &shape, field, config, aug, stages)?,
            saves: times.len() as u32,
            seed_lo,
            seed_hi,
            read_offset: 0,
            write_offset: n as u32,
            cond_offset: times.len() as u32,
            // Hutchinson's probes are keyed by the particle's index in the whole set.
            index_offset: first_index as u32,
            pop_offset: if population.is_empty() {
                0
            } else {
                (times.len() + cond.len()) as u32
            },
            fd_step: config.central_step as f32,
            slots: shape.slots as u32,
            _pad0: 0,
            t0: config.t0 as f32,
            t1: config.t1 as f32,
            rtol: config.rtol as f32,
            atol: config.atol as f32,
            time_scale: field.time_scale,
            emb_period,
            init_exponent: 1.0 / (config.solver.order() + 1) as f32,
            _pad3: 0.0,
            c,
            b,
            e,
            a,
            shared_t: 0.0,
            shared_h: 0.0,
            phase: 0,
            _pad2: 0,
        };
        let flow_buf = GpuBuffer::uniform(ctx, &params, "morphogen.flow.params")?;
        let weights = net.upload(ctx, "morphogen.flow")?;
        let mut consts: Vec<f32> = times.iter().map(|&t| t as f32).collect();
        consts.extend_from_slice(cond);
        // Population indices as floats: exact below 2^24, which validation guarantees.
        consts.extend(population.iter().map(|&k| k as f32));
        consts.push(0.0);
        let consts = GpuBuffer::from_slice(ctx, &consts, "morphogen.flow.consts")?;
        let mut ys = vec![0.0f32; n * 2 * aug];
        for p in 0..n {
            ys[p * 2 * aug..p * 2 * aug + d].copy_from_slice(&particles[p * d..(p + 1) * d]);
        }
        let ys = GpuBuffer::from_slice(ctx, &ys, "morphogen.flow.ys")?;
        let metas = GpuBuffer::<Meta>::zeroed(ctx, n, "morphogen.flow.metas")?;
        let saved = GpuBuffer::<f32>::zeroed(ctx, times.len() * n * aug, "morphogen.flow.saved")?;
        Ok(Self {
            params,
            flow: flow_buf,
            net_source,
            state_source,
            weights,
            consts,
            ys,
            metas,
            saved,
            defines,
            n,
            d,
            aug,
            times,
            logp,
        })
    }
}
