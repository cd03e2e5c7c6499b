//! The trainer's resident buffers and its chain of kernels, built once per run: draw,
//! pairing (auction or Sinkhorn), path, forward per layer, loss, backward per layer,
//! gradients per layer, Adam.

use std::sync::Arc;

use crate::error::Result;
use crate::flow::model::TimeInput;
use crate::gpu::{GpuBuffer, GpuContext, Grid, Kernel, KernelDesc};

use super::assign::Auction;
use super::config::{Method, Sampler, TrainConfig};
use super::layout::Layout;
use super::shared::StepBlock;

const WG: u32 = 64;

/// One kernel with its bind group and grid.
pub(super) struct Pass {
    pub kernel: Arc<Kernel>,
    pub group: wgpu::BindGroup,
    pub grid: Grid,
    /// Bound to the per-step block at a dynamic offset.
    pub stepped: bool,
}

/// Resident buffers of a training run.
pub(super) struct Buffers {
    pub seeds: GpuBuffer<[u32; 2]>,
    pub params: GpuBuffer<f32>,
    pub grads: GpuBuffer<f32>,
    pub moments: GpuBuffer<f32>,
    pub losses: GpuBuffer<f32>,
    pub steps: GpuBuffer<StepBlock>,
    // Bound only (kept alive with the bind groups).
    pub _bound: Vec<GpuBuffer<f32>>,
    pub matched: GpuBuffer<u32>,
    /// Every model's batch: source and target points (models × B × d).
    pub x0: GpuBuffer<f32>,
    pub x1: GpuBuffer<f32>,
    pub pairs: GpuBuffer<u32>,
    pub plan_error: GpuBuffer<f32>,
}

/// A run's buffers and recorded chain.
pub(super) struct Chain {
    pub buffers: Buffers,
    pub auction: Option<Auction>,
    pub passes: Vec<Pass>,
}

/// Uploads the run's parameters and point clouds and builds every kernel of a step.
pub(super) fn build(
    ctx: &GpuContext,
    config: &TrainConfig,
    layout: &Layout,
    (source, target): (&Sampler, &Sampler),
    seeds: &[u64],
    params: &[Vec<f32>],
) -> Result<Chain> {
    let models = config.models;
    let nets = config.nets();
    let (b, d, t) = (config.batch, layout.dim, layout.tape);
    // Rows of the models' batches, and of every network's tape (a score network has its
    // own tape over its flow's batch).
    let rows = models * b;
    let net_rows = nets * b;
    let label = |name: &str| format!("morphogen.train.{name}");
    let flat: Vec<f32> = params.concat();
    let points = |s: &Sampler| match s {
        Sampler::Points { points, .. } => points.clone(),
        _ => vec![0.0],
    };
    let source_points = GpuBuffer::from_slice(ctx, &points(source), &label("source_points"))?;
    let target_points = GpuBuffer::from_slice(ctx, &points(target), &label("target_points"))?;
    let x0 = GpuBuffer::<f32>::zeroed(ctx, rows * d, &label("x0"))?;
    let x1 = GpuBuffer::<f32>::zeroed(ctx, rows * d, &label("x1"))?;
    let identity: Vec<u32> = (0..rows).map(|r| (r % b) as u32).collect();
    let matched = GpuBuffer::from_slice(ctx, &identity, &label("matched"))?;
    let entropic = config.entropic();
    let pairs = GpuBuffer::<u32>::zeroed(
        ctx,
        if entropic.is_some() { rows * 2 } else { 2 },
        &label("pairs"),
    )?;
    let plan_error = GpuBuffer::<f32>::zeroed(ctx, models, &label("plan_error"))?;
    let plan_costs = GpuBuffer::<f32>::scratch(
        ctx,
        if entropic.is_some() {
            models * b * b * 2
        } else {
            1
        },
        &label("plan_costs"),
    )?;
    let tape = GpuBuffer::<f32>::zeroed(ctx, net_rows * t, &label("tape"))?;
    let back = GpuBuffer::<f32>::zeroed(ctx, net_rows * t, &label("back"))?;
    let targets = GpuBuffer::<f32>::zeroed(ctx, net_rows * d, &label("targets"))?;
    let weights = GpuBuffer::<f32>::zeroed(ctx, net_rows, &label("weights"))?;
    let row_loss = GpuBuffer::<f32>::zeroed(ctx, net_rows, &label("row_loss"))?;
    let sigmas: Vec<f32> = (0..models).map(|m| config.sigma_of(m) as f32).collect();
    let sigmas = GpuBuffer::from_slice(ctx, &sigmas, &label("sigmas"))?;
    let mut buffers = Buffers {
        seeds: GpuBuffer::from_slice(
            ctx,
            &seeds
                .iter()
                .map(|&s| crate::rng::seed_key(s))
                .collect::<Vec<_>>(),
            &label("seeds"),
        )?,
        params: GpuBuffer::from_slice(ctx, &flat, &label("params"))?,
        grads: GpuBuffer::zeroed(ctx, flat.len(), &label("grads"))?,
        moments: GpuBuffer::zeroed(ctx, 2 * flat.len(), &label("moments"))?,
        losses: GpuBuffer::zeroed(ctx, config.steps_per_submit * nets, &label("losses"))?,
        steps: GpuBuffer::uniform_slice(
            ctx,
            &vec![StepBlock::new(config, 1, 0); config.steps_per_submit],
            &label("steps"),
        )?,
        _bound: Vec::new(),
        matched,
        x0,
        x1,
        pairs,
        plan_error,
    };
    let host_pairing = config.pairs_on_host(ctx);
    let auction = if config.method.exact_coupling() && !host_pairing {
        Some(Auction::new(
            ctx,
            &buffers.x0,
            &buffers.x1,
            &buffers.matched,
            (models, b, d),
            None,
        )?)
    } else {
        None
    };

    let max = ctx.limits().max_compute_workgroups_per_dimension;
    let grid = |items: usize| Grid::linear(items as u64, WG, max);
    // What every kernel is told: its workgroup, the batch, and how many models (or, for
    // the kernels that run per network, networks) it serves.
    let with_count = |count: usize, extra: &[(&'static str, f64)]| -> Vec<(&'static str, f64)> {
        [
            ("WG", f64::from(WG)),
            ("B", b as f64),
            ("MODELS", count as f64),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect()
    };
    let with = |extra: &[(&'static str, f64)]| with_count(models, extra);
    let with_nets = |extra: &[(&'static str, f64)]| with_count(nets, extra);
    // Every buffer of the run under the name the kernels give it: each kernel binds the
    // ones it declares.
    let table: Vec<(&str, wgpu::BindingResource<'_>)> = vec![
        ("step", step_binding(&buffers.steps)),
        ("seeds", buffers.seeds.binding()),
        ("source_points", source_points.binding()),
        ("target_points", target_points.binding()),
        ("x0", buffers.x0.binding()),
        ("x1", buffers.x1.binding()),
        ("matched", buffers.matched.binding()),
        ("pairs", buffers.pairs.binding()),
        ("costs", plan_costs.binding()),
        ("status", buffers.plan_error.binding()),
        ("sigmas", sigmas.binding()),
        ("tape", tape.binding()),
        ("targets", targets.binding()),
        ("weights", weights.binding()),
        ("back", back.binding()),
        ("row_loss", row_loss.binding()),
        ("params", buffers.params.binding()),
        ("grads", buffers.grads.binding()),
        ("moments", buffers.moments.binding()),
        ("losses", buffers.losses.binding()),
    ];
    // A kernel of `shader` with `overrides`, bound from the table; `stepped` ones read the
    // step's block at a dynamic offset.
    let pass = |shader: &str, overrides: &[(&str, f64)], grid: Grid, stepped: bool| {
        let desc = KernelDesc::new(shader).overrides(overrides);
        let kernel = ctx.kernel(&if stepped {
            desc.dynamic(&["step"])
        } else {
            desc
        })?;
        let group = kernel.bind_from(ctx, &[&table])?;
        Result::Ok(Pass {
            kernel,
            group,
            grid,
            stepped,
        })
    };

    let mut passes = vec![pass(
        "flow/train/draw",
        &with(&[
            ("D", d as f64),
            ("SOURCE", f64::from(source.code())),
            ("TARGET", f64::from(target.code())),
            ("SOURCE_ROWS", source.rows().max(1) as f64),
            ("TARGET_ROWS", target.rows().max(1) as f64),
            (
                "DRAW_SOURCE",
                f64::from(u32::from(config.method != Method::Fm)),
            ),
        ]),
        grid(rows),
        true,
    )?];
    if let Some(e) = &entropic {
        let cpu = ctx.adapter().device_type.eq_ignore_ascii_case("cpu");
        let rho = if e.tau >= 1.0 {
            0.0
        } else {
            e.eps * e.tau / (1.0 - e.tau)
        };
        passes.push(pass(
            "flow/train/sinkhorn",
            &[
                ("WG", if cpu { 64.0 } else { 256.0 }),
                ("B", b as f64),
                ("D", d as f64),
                ("EPS", e.eps),
                ("RHO", rho),
                ("BALANCED", f64::from(u8::from(e.tau >= 1.0))),
                ("ITERS", e.iterations as f64),
                ("ANNEAL", super::reference::ANNEAL as f64),
                ("NORMALIZE", f64::from(u8::from(e.normalize))),
            ],
            Grid::new(models as u32, 1, 1),
            true,
        )?);
    }
    let time = match layout.time {
        TimeInput::Last => 0.0,
        TimeInput::First => 1.0,
        TimeInput::None => 2.0,
    };
    let pairing = if config.method.exact_coupling() {
        1.0
    } else if entropic.is_some() {
        2.0
    } else {
        0.0
    };
    passes.push(pass(
        "flow/train/path",
        &with(&[
            ("NETS", nets as f64),
            ("D", d as f64),
            ("TAPE", t as f64),
            ("METHOD", f64::from(config.method.path_code())),
            ("PAIRING", pairing),
            (
                "STRATIFIED",
                f64::from(u8::from(config.method.stratified_times())),
            ),
            ("TIME", time),
        ]),
        grid(net_rows),
        true,
    )?);

    let act = f64::from(layout.activation.code());
    let params_count = layout.params as f64;
    // What every layer kernel is told of its layer.
    let layer_overrides = |l: &super::layout::LayerSlots, extra: &[(&'static str, f64)]| {
        with_nets(&[
            ("TAPE", t as f64),
            ("PARAMS", params_count),
            ("IN", l.inputs as f64),
            ("OUT", l.outputs as f64),
            ("P_OFF", l.params as f64),
            ("IN_OFF", l.input as f64),
            ("Z_OFF", l.z as f64),
        ])
        .into_iter()
        .chain(extra.iter().copied())
        .collect::<Vec<_>>()
    };
    // Row tiles of 4 per network, as the layer kernels take them.
    let row_tiles = nets * b.div_ceil(4);
    for l in &layout.layers {
        let overrides = layer_overrides(
            l,
            &[
                ("H_OFF", l.h.unwrap_or(0) as f64),
                ("HAS_H", f64::from(u8::from(l.h.is_some()))),
                ("RESIDUAL", f64::from(u8::from(l.residual))),
                ("ACT", act),
            ],
        );
        let tiles = row_tiles * l.outputs.div_ceil(4);
        passes.push(pass("flow/train/forward", &overrides, grid(tiles), false)?);
    }
    passes.push(pass(
        "flow/train/loss",
        &with_nets(&[
            ("D", d as f64),
            ("TAPE", t as f64),
            ("OUT_OFF", layout.output() as f64),
        ]),
        grid(net_rows),
        false,
    )?);
    for n in (1..layout.layers.len()).rev() {
        let (l, prev) = (&layout.layers[n], &layout.layers[n - 1]);
        let overrides = layer_overrides(
            l,
            &[
                ("PREV_Z_OFF", prev.z as f64),
                ("H_OFF", l.h.unwrap_or(0) as f64),
                ("RESIDUAL", f64::from(u8::from(l.residual))),
                ("ACT", act),
            ],
        );
        let tiles = row_tiles * l.inputs.div_ceil(4);
        passes.push(pass("flow/train/backward", &overrides, grid(tiles), false)?);
    }
    for l in &layout.layers {
        // Tiles of 4 units x 4 columns of the input extended by the bias's column.
        let tiles = nets * l.outputs.div_ceil(4) * (l.inputs + 1).div_ceil(4);
        let overrides = layer_overrides(l, &[]);
        passes.push(pass("flow/train/grad", &overrides, grid(tiles), false)?);
    }
    let (b1, b2) = config.betas;
    passes.push(pass(
        "flow/train/adam",
        &with_nets(&[
            ("D", d as f64),
            ("PARAMS", params_count),
            ("BETA1", b1),
            ("BETA2", b2),
            ("EPS", config.adam_eps),
        ]),
        grid(nets * layout.params),
        true,
    )?);
    // Order: draw, [Sinkhorn], path, forward, loss, backward, gradients, Adam; the
    // auction is recorded separately, between the draw and the path (it is not stepped).

    buffers._bound = vec![
        plan_costs,
        source_points,
        target_points,
        tape,
        back,
        targets,
        weights,
        row_loss,
        sigmas,
    ];
    Ok(Chain {
        buffers,
        auction,
        passes,
    })
}

fn step_binding(steps: &GpuBuffer<StepBlock>) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: steps.raw(),
        offset: 0,
        size: std::num::NonZeroU64::new(std::mem::size_of::<StepBlock>() as u64),
    })
}
