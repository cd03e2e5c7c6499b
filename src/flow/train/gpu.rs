//! The trainer's GPU driver: every buffer resident, one step recorded as a chain of
//! dispatches (draw, pair, path, forward per layer, loss, backward per layer, gradients
//! per layer, Adam), many steps per submission, M models in the same dispatches.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::flow::model::{TimeInput, VelocityField};
use crate::gpu::{GpuBuffer, GpuContext, Grid, Kernel, KernelDesc, Recorder, StepProfile};

use super::assign::Auction;
use super::checkpoint::TrainCheckpoint;
use super::config::{Method, Sampler, TrainConfig};
use super::layout::Layout;
use super::shared::StepBlock;

const WG: u32 = 64;

/// One kernel with its bind group and grid.
struct Pass {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: Grid,
    /// Bound to the per-step block at a dynamic offset.
    stepped: bool,
}

/// Resident buffers of a training run.
struct Buffers {
    seeds: GpuBuffer<[u32; 2]>,
    params: GpuBuffer<f32>,
    grads: GpuBuffer<f32>,
    moments: GpuBuffer<f32>,
    losses: GpuBuffer<f32>,
    steps: GpuBuffer<StepBlock>,
    // Bound only (kept alive with the bind groups).
    _bound: Vec<GpuBuffer<f32>>,
    _matched: GpuBuffer<u32>,
    pairs: GpuBuffer<u32>,
    plan_error: GpuBuffer<f32>,
}

/// One vector per model.
pub type PerModel = Vec<Vec<f32>>;

/// Progress of a training run, reported after each submission.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainProgress {
    /// Steps taken in all.
    pub step: u64,
    /// Steps asked for in this call.
    pub total: u64,
    /// Each model's loss at the latest step.
    pub loss: Vec<f32>,
}

/// Trains M networks on the GPU (see [`crate::flow::train`]).
pub struct Trainer {
    ctx: GpuContext,
    config: TrainConfig,
    source: Sampler,
    target: Sampler,
    layout: Layout,
    seeds: Vec<u64>,
    step: u64,
    buffers: Buffers,
    auction: Option<Auction>,
    passes: Vec<Pass>,
}

impl Trainer {
    /// A run from PyTorch-style initial parameters under each model's seed (seed + m).
    pub fn new(
        ctx: &GpuContext,
        config: &TrainConfig,
        source: &Sampler,
        target: &Sampler,
    ) -> Result<Self> {
        config.validate(source, target)?;
        let layout = Layout::new(target.dim(), &config.network);
        let params: Vec<Vec<f32>> = (0..config.models as u64)
            .map(|m| layout.initial_parameters(config.seed + m))
            .collect();
        Self::with_parameters(ctx, config, source, target, &params)
    }

    /// A run from given initial parameters (one vector per model, in [`Layout`]'s order).
    pub fn with_parameters(
        ctx: &GpuContext,
        config: &TrainConfig,
        source: &Sampler,
        target: &Sampler,
        params: &[Vec<f32>],
    ) -> Result<Self> {
        config.validate(source, target)?;
        let layout = Layout::new(target.dim(), &config.network);
        if params.len() != config.models || params.iter().any(|p| p.len() != layout.params) {
            return Err(Error::invalid(format!(
                "initial parameters: expected {} models of {} values; got {} of lengths {:?}",
                config.models,
                layout.params,
                params.len(),
                params.iter().map(Vec::len).collect::<Vec<_>>()
            )));
        }
        let seeds: Vec<u64> = (0..config.models as u64).map(|m| config.seed + m).collect();
        let models = config.models;
        let (b, d, t) = (config.batch, layout.dim, layout.tape);
        let rows = models * b;
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
        let tape = GpuBuffer::<f32>::zeroed(ctx, rows * t, &label("tape"))?;
        let back = GpuBuffer::<f32>::zeroed(ctx, rows * t, &label("back"))?;
        let targets = GpuBuffer::<f32>::zeroed(ctx, rows * d, &label("targets"))?;
        let row_loss = GpuBuffer::<f32>::zeroed(ctx, rows, &label("row_loss"))?;
        let buffers = Buffers {
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
            losses: GpuBuffer::zeroed(ctx, config.steps_per_submit * models, &label("losses"))?,
            steps: GpuBuffer::uniform_slice(
                ctx,
                &vec![StepBlock::new(config, 1, 0); config.steps_per_submit],
                &label("steps"),
            )?,
            _bound: Vec::new(),
            _matched: matched,
            pairs,
            plan_error,
        };
        let auction = if config.method.exact_coupling() {
            Some(Auction::new(
                ctx,
                &x0,
                &x1,
                &buffers._matched,
                (models, b, d),
                None,
            )?)
        } else {
            None
        };

        let max = ctx.limits().max_compute_workgroups_per_dimension;
        let grid = |items: usize| Grid::linear(items as u64, WG, max);
        let common = [
            ("WG", f64::from(WG)),
            ("B", b as f64),
            ("MODELS", models as f64),
        ];
        let with = |extra: &[(&'static str, f64)]| -> Vec<(&'static str, f64)> {
            common.iter().chain(extra).copied().collect()
        };
        let mut passes = Vec::new();
        let stepped_kernel = |shader: &str, overrides: &[(&str, f64)]| {
            ctx.kernel(
                &KernelDesc::new(shader)
                    .overrides(overrides)
                    .dynamic(&["step"]),
            )
        };

        let draw = stepped_kernel(
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
        )?;
        let group = draw.bind_named(
            ctx,
            &[
                ("step", step_binding(&buffers.steps)),
                ("seeds", buffers.seeds.binding()),
                ("source_points", source_points.binding()),
                ("target_points", target_points.binding()),
                ("x0", x0.binding()),
                ("x1", x1.binding()),
            ],
        )?;
        passes.push(Pass {
            kernel: draw,
            group,
            grid: grid(rows),
            stepped: true,
        });

        if let Some(e) = &entropic {
            let cpu = ctx.adapter().device_type.eq_ignore_ascii_case("cpu");
            let kernel = stepped_kernel(
                "flow/train/sinkhorn",
                &[
                    ("WG", if cpu { 64.0 } else { 256.0 }),
                    ("B", b as f64),
                    ("D", d as f64),
                    ("EPS", e.eps),
                    (
                        "RHO",
                        if e.tau >= 1.0 {
                            0.0
                        } else {
                            e.eps * e.tau / (1.0 - e.tau)
                        },
                    ),
                    ("BALANCED", f64::from(u8::from(e.tau >= 1.0))),
                    ("ITERS", e.iterations as f64),
                    ("ANNEAL", super::reference::ANNEAL as f64),
                    ("NORMALIZE", f64::from(u8::from(e.normalize))),
                ],
            )?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("step", step_binding(&buffers.steps)),
                    ("seeds", buffers.seeds.binding()),
                    ("x0", x0.binding()),
                    ("x1", x1.binding()),
                    ("costs", plan_costs.binding()),
                    ("pairs", buffers.pairs.binding()),
                    ("status", buffers.plan_error.binding()),
                ],
            )?;
            passes.push(Pass {
                kernel,
                group,
                grid: Grid::new(models as u32, 1, 1),
                stepped: true,
            });
        }

        let time = match layout.time {
            TimeInput::Last => 0.0,
            TimeInput::First => 1.0,
            TimeInput::None => 2.0,
        };
        let path = stepped_kernel(
            "flow/train/path",
            &with(&[
                ("D", d as f64),
                ("TAPE", t as f64),
                ("SIGMA", config.sigma),
                ("METHOD", f64::from(config.method.path_code())),
                (
                    "PAIRING",
                    if auction.is_some() {
                        1.0
                    } else if entropic.is_some() {
                        2.0
                    } else {
                        0.0
                    },
                ),
                (
                    "STRATIFIED",
                    f64::from(u8::from(config.method.stratified_times())),
                ),
                ("TIME", time),
            ]),
        )?;
        let group = path.bind_named(
            ctx,
            &[
                ("step", step_binding(&buffers.steps)),
                ("seeds", buffers.seeds.binding()),
                ("x0", x0.binding()),
                ("x1", x1.binding()),
                ("matched", buffers._matched.binding()),
                ("pairs", buffers.pairs.binding()),
                ("tape", tape.binding()),
                ("targets", targets.binding()),
            ],
        )?;
        let path_pass = Pass {
            kernel: path,
            group,
            grid: grid(rows),
            stepped: true,
        };

        let act = f64::from(layout.activation.code());
        let params_count = layout.params as f64;
        // What every layer kernel is told of its layer.
        let layer_overrides = |l: &super::layout::LayerSlots, extra: &[(&'static str, f64)]| {
            with(&[
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
        // Row tiles of 4 per model, as the layer kernels take them.
        let row_tiles = models * b.div_ceil(4);
        let mut forward = Vec::new();
        for l in &layout.layers {
            let kernel = ctx.kernel(&KernelDesc::new("flow/train/forward").overrides(
                &layer_overrides(
                    l,
                    &[
                        ("H_OFF", l.h.unwrap_or(0) as f64),
                        ("HAS_H", f64::from(u8::from(l.h.is_some()))),
                        ("RESIDUAL", f64::from(u8::from(l.residual))),
                        ("ACT", act),
                    ],
                ),
            ))?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("params", buffers.params.binding()),
                    ("tape", tape.binding()),
                ],
            )?;
            forward.push(Pass {
                kernel,
                group,
                grid: grid(row_tiles * l.outputs.div_ceil(4)),
                stepped: false,
            });
        }
        let loss = ctx.kernel(&KernelDesc::new("flow/train/loss").overrides(&with(&[
            ("D", d as f64),
            ("TAPE", t as f64),
            ("OUT_OFF", layout.output() as f64),
        ])))?;
        let group = loss.bind_named(
            ctx,
            &[
                ("tape", tape.binding()),
                ("targets", targets.binding()),
                ("back", back.binding()),
                ("row_loss", row_loss.binding()),
            ],
        )?;
        let loss_pass = Pass {
            kernel: loss,
            group,
            grid: grid(rows),
            stepped: false,
        };
        let mut backward = Vec::new();
        for n in (1..layout.layers.len()).rev() {
            let (l, prev) = (&layout.layers[n], &layout.layers[n - 1]);
            let kernel = ctx.kernel(&KernelDesc::new("flow/train/backward").overrides(
                &layer_overrides(
                    l,
                    &[
                        ("PREV_Z_OFF", prev.z as f64),
                        ("H_OFF", l.h.unwrap_or(0) as f64),
                        ("RESIDUAL", f64::from(u8::from(l.residual))),
                        ("ACT", act),
                    ],
                ),
            ))?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("params", buffers.params.binding()),
                    ("tape", tape.binding()),
                    ("back", back.binding()),
                ],
            )?;
            backward.push(Pass {
                kernel,
                group,
                grid: grid(row_tiles * l.inputs.div_ceil(4)),
                stepped: false,
            });
        }
        let mut gradients = Vec::new();
        for l in &layout.layers {
            let kernel = ctx
                .kernel(&KernelDesc::new("flow/train/grad").overrides(&layer_overrides(l, &[])))?;
            let group = kernel.bind_named(
                ctx,
                &[
                    ("tape", tape.binding()),
                    ("back", back.binding()),
                    ("grads", buffers.grads.binding()),
                ],
            )?;
            // Tiles of 4 units x 4 columns of the input extended by the bias's column.
            let tiles = models * l.outputs.div_ceil(4) * (l.inputs + 1).div_ceil(4);
            gradients.push(Pass {
                kernel,
                group,
                grid: grid(tiles),
                stepped: false,
            });
        }
        let (b1, b2) = config.betas;
        let adam = stepped_kernel(
            "flow/train/adam",
            &with(&[
                ("D", d as f64),
                ("PARAMS", params_count),
                ("BETA1", b1),
                ("BETA2", b2),
                ("EPS", config.adam_eps),
            ]),
        )?;
        let group = adam.bind_named(
            ctx,
            &[
                ("step", step_binding(&buffers.steps)),
                ("params", buffers.params.binding()),
                ("grads", buffers.grads.binding()),
                ("moments", buffers.moments.binding()),
                ("row_loss", row_loss.binding()),
                ("losses", buffers.losses.binding()),
            ],
        )?;
        let adam_pass = Pass {
            kernel: adam,
            group,
            grid: grid(models * layout.params),
            stepped: true,
        };

        // Order: draw, [auction between draw and path], path, forward, loss, backward,
        // gradients, Adam. The auction is recorded separately (it is not stepped).
        passes.push(path_pass);
        passes.extend(forward);
        passes.push(loss_pass);
        passes.extend(backward);
        passes.extend(gradients);
        passes.push(adam_pass);

        let mut buffers = buffers;
        buffers._bound = vec![
            plan_costs,
            source_points,
            target_points,
            x0,
            x1,
            tape,
            back,
            targets,
            row_loss,
        ];
        Ok(Self {
            ctx: ctx.clone(),
            config: config.clone(),
            source: source.clone(),
            target: target.clone(),
            layout,
            seeds,
            step: 0,
            buffers,
            auction,
            passes,
        })
    }

    /// The networks' layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Each model's seed.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    /// Steps taken.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Dispatches recorded per training step.
    pub fn dispatches_per_step(&self) -> usize {
        self.passes.len() + usize::from(self.auction.is_some())
    }

    /// Records steps `first + 1 ..= first + count` (block i of the step table is step
    /// first + 1 + i) with or without the optimiser's update.
    fn record_steps(&self, rec: &mut Recorder<'_>, count: usize, update: bool) {
        let stride = std::mem::size_of::<StepBlock>() as u32;
        let last = self.passes.len() - 1;
        for i in 0..count {
            let offset = [i as u32 * stride];
            for (n, pass) in self.passes.iter().enumerate() {
                if n == last && !update {
                    break;
                }
                let offsets: &[u32] = if pass.stepped { &offset } else { &[] };
                rec.dispatch_at(&pass.kernel, &pass.group, offsets, pass.grid);
                if n == 0 {
                    if let Some(auction) = &self.auction {
                        auction.record(rec);
                    }
                }
            }
        }
    }

    fn write_step_blocks(&self, count: usize) -> Result<()> {
        let blocks: Vec<StepBlock> = (0..count)
            .map(|i| StepBlock::new(&self.config, self.step + 1 + i as u64, i as u32))
            .collect();
        self.buffers.steps.write(&self.ctx, &blocks)
    }

    /// Takes `steps` optimiser steps, `steps_per_submit` per submission, calling
    /// `progress` after each; returns the loss of every step (steps × models).
    pub fn train(
        &mut self,
        steps: usize,
        progress: &mut dyn FnMut(&TrainProgress),
    ) -> Result<Vec<f32>> {
        pollster::block_on(self.train_async(steps, progress))
    }

    /// [`Trainer::train`] without blocking the thread (the browser's form).
    pub async fn train_async(
        &mut self,
        steps: usize,
        progress: &mut dyn FnMut(&TrainProgress),
    ) -> Result<Vec<f32>> {
        let models = self.config.models;
        let mut losses = Vec::with_capacity(steps * models);
        let mut done = 0;
        while done < steps {
            let count = (steps - done).min(self.config.steps_per_submit);
            self.write_step_blocks(count)?;
            let mut rec = self.ctx.recorder("morphogen.train.steps");
            self.record_steps(&mut rec, count, true);
            let read = rec.read_range(&self.buffers.losses, 0, count * models)?;
            let rounds = match &self.auction {
                Some(a) => Some(rec.read(&a.status)?),
                None => None,
            };
            rec.submit()?;
            let chunk = read.wait_async(&self.ctx).await?;
            if let Some(rounds) = rounds {
                Auction::check(&rounds.wait_async(&self.ctx).await?)?;
            }
            if let Some(bad) = chunk.iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(format!(
                    "the loss of model {} became {} at step {}; lower the learning rate",
                    bad % models,
                    chunk[bad],
                    self.step + 1 + (bad / models) as u64
                )));
            }
            losses.extend_from_slice(&chunk);
            self.step += count as u64;
            done += count;
            progress(&TrainProgress {
                step: self.step,
                total: steps as u64,
                loss: chunk[(count - 1) * models..].to_vec(),
            });
        }
        Ok(losses)
    }

    /// Takes `steps` optimiser steps (at most `steps_per_submit`) in one profiled
    /// submission: where the time went, kernel by kernel (needs timestamp queries for the
    /// kernels' times).
    pub fn profile_steps(&mut self, steps: usize) -> Result<StepProfile> {
        let n = steps.clamp(1, self.config.steps_per_submit);
        self.write_step_blocks(n)?;
        let passes = (n * self.dispatches_per_step()) as u32;
        let mut rec = self
            .ctx
            .profiled_recorder("morphogen.train.profile", passes)?;
        self.record_steps(&mut rec, n, true);
        let dispatches = rec.dispatch_count();
        let (timing, passes) = rec.submit()?.wait_passes(&self.ctx)?;
        self.step += n as u64;
        Ok(StepProfile::of(n, dispatches, &timing, passes))
    }

    /// Computes the loss and gradients of the next step's batch without updating (and
    /// without advancing the step count): each model's parameter gradients.
    pub fn gradients(&self) -> Result<Vec<Vec<f32>>> {
        self.write_step_blocks(1)?;
        let mut rec = self.ctx.recorder("morphogen.train.gradients");
        self.record_steps(&mut rec, 1, false);
        let grads = rec.read(&self.buffers.grads)?;
        rec.submit()?;
        Ok(grads
            .wait(&self.ctx)?
            .chunks(self.layout.params)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// The pairs the entropic pairing drew at the latest step (models × B × (source row,
    /// target row)), and each model's plan row-marginal L1 error; `None` without one.
    pub fn plan_pairs(&self) -> Result<Option<(Vec<u32>, Vec<f32>)>> {
        if self.config.entropic().is_none() {
            return Ok(None);
        }
        Ok(Some((
            self.buffers.pairs.read(&self.ctx)?,
            self.buffers.plan_error.read(&self.ctx)?,
        )))
    }

    /// Each model's current parameters.
    pub fn parameters(&self) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.parameters_async())
    }

    /// [`Trainer::parameters`] without blocking the thread.
    pub async fn parameters_async(&self) -> Result<Vec<Vec<f32>>> {
        let mut rec = self.ctx.recorder("morphogen.train.parameters");
        let read = rec.read(&self.buffers.params)?;
        rec.submit()?;
        Ok(read
            .wait_async(&self.ctx)
            .await?
            .chunks(self.layout.params)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Each model's Adam moments (first, second).
    pub fn moments(&self) -> Result<(PerModel, PerModel)> {
        let all = self.buffers.moments.read(&self.ctx)?;
        let (m, v) = all.split_at(all.len() / 2);
        let split = |x: &[f32]| x.chunks(self.layout.params).map(<[f32]>::to_vec).collect();
        Ok((split(m), split(v)))
    }

    /// Restores parameters, moments and the step count (from a checkpoint).
    pub fn restore(
        &mut self,
        params: &[f32],
        first: &[f32],
        second: &[f32],
        step: u64,
    ) -> Result<()> {
        let n = self.config.models * self.layout.params;
        if params.len() != n || first.len() != n || second.len() != n {
            return Err(Error::invalid(format!(
                "a checkpoint of this run holds {n} parameters and as many moments of each kind; got {}, {} and {}",
                params.len(),
                first.len(),
                second.len()
            )));
        }
        self.buffers.params.write(&self.ctx, params)?;
        let mut moments = first.to_vec();
        moments.extend_from_slice(second);
        self.buffers.moments.write(&self.ctx, &moments)?;
        self.step = step;
        Ok(())
    }

    /// The run's state, with the loss history `losses` (steps × models) kept beside it.
    pub fn checkpoint(&self, losses: &[f32]) -> Result<TrainCheckpoint> {
        let (first, second) = self.moments()?;
        Ok(TrainCheckpoint {
            config: self.config.clone(),
            source: self.source.clone(),
            target: self.target.clone(),
            step: self.step,
            params: self.parameters()?.concat(),
            first: first.concat(),
            second: second.concat(),
            losses: losses.to_vec(),
        })
    }

    /// A run continued from a checkpoint: it takes the same steps the saved run would
    /// have taken next.
    pub fn resume(ctx: &GpuContext, checkpoint: &TrainCheckpoint) -> Result<Self> {
        let c = checkpoint;
        let mut trainer = Self::new(ctx, &c.config, &c.source, &c.target)?;
        trainer.restore(&c.params, &c.first, &c.second, c.step)?;
        Ok(trainer)
    }

    /// Where the run's source and target points come from.
    pub fn sampler_pair(&self) -> (&Sampler, &Sampler) {
        (&self.source, &self.target)
    }

    /// The run's settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Model `m`'s network as a velocity field.
    pub fn field(&self, m: usize) -> Result<VelocityField> {
        let params = self.parameters()?;
        let p = params.get(m).ok_or_else(|| {
            Error::invalid(format!(
                "model {m} does not exist; this run trains {}",
                params.len()
            ))
        })?;
        Ok(self.layout.field(p))
    }
}

fn step_binding(steps: &GpuBuffer<StepBlock>) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: steps.raw(),
        offset: 0,
        size: std::num::NonZeroU64::new(std::mem::size_of::<StepBlock>() as u64),
    })
}
