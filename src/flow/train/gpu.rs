//! The trainer's GPU driver: every buffer resident, one step recorded as a chain of
//! dispatches (draw, pair, path, forward per layer, loss, backward per layer, gradients
//! per layer, Adam), many steps per submission, M models in the same dispatches.

use crate::error::{Error, Result};
use crate::flow::model::VelocityField;
use crate::gpu::{GpuContext, Recorder, StepProfile};

use super::assign::Auction;
use super::checkpoint::TrainCheckpoint;
use super::config::{Sampler, TrainConfig};
use super::layout::Layout;
use super::passes::{build, Buffers, Chain, Pass};
use super::shared::StepBlock;

/// One vector per network: each model's flow, then (when trained) each model's score.
pub type PerModel = Vec<Vec<f32>>;

/// Progress of a training run, reported after each submission.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainProgress {
    /// Steps taken in all.
    pub step: u64,
    /// Steps asked for in this call.
    pub total: u64,
    /// Each network's loss at the latest step (the flows, then the score networks).
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
    /// Exact pairing on the host between each step's draw and its training passes.
    host_pairing: bool,
    passes: Vec<Pass>,
}

impl Trainer {
    /// A run from PyTorch-style initial parameters under each model's seed (seed + m; a
    /// score network's from [`score_seed`] of it).
    pub fn new(
        ctx: &GpuContext,
        config: &TrainConfig,
        source: &Sampler,
        target: &Sampler,
    ) -> Result<Self> {
        config.validate(source, target)?;
        let layout = Layout::new(target.dim(), &config.network);
        let seeds = (0..config.models as u64).map(|m| config.seed + m);
        let scores =
            seeds
                .clone()
                .map(score_seed)
                .take(if config.score { config.models } else { 0 });
        let params: Vec<Vec<f32>> = seeds
            .chain(scores)
            .map(|s| layout.initial_parameters(s))
            .collect();
        Self::with_parameters(ctx, config, source, target, &params)
    }

    /// A run from given initial parameters (one vector per network, in [`Layout`]'s order:
    /// the models' flows, then their score networks).
    pub fn with_parameters(
        ctx: &GpuContext,
        config: &TrainConfig,
        source: &Sampler,
        target: &Sampler,
        params: &[Vec<f32>],
    ) -> Result<Self> {
        config.validate(source, target)?;
        let layout = Layout::new(target.dim(), &config.network);
        if params.len() != config.nets() || params.iter().any(|p| p.len() != layout.params) {
            return Err(Error::invalid(format!(
                "initial parameters: expected {} networks of {} values; got {} of lengths {:?}",
                config.nets(),
                layout.params,
                params.len(),
                params.iter().map(Vec::len).collect::<Vec<_>>()
            )));
        }
        let seeds: Vec<u64> = (0..config.models as u64).map(|m| config.seed + m).collect();
        let Chain {
            buffers,
            auction,
            passes,
        } = build(ctx, config, &layout, (source, target), &seeds, params)?;
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
            host_pairing: config.pairs_on_host(ctx),
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
        for i in 0..count {
            self.record_passes(rec, i, 0, update);
        }
    }

    /// Records the passes from `first` on of the step at block `i`.
    fn record_passes(&self, rec: &mut Recorder<'_>, i: usize, first: usize, update: bool) {
        let stride = std::mem::size_of::<StepBlock>() as u32;
        let last = self.passes.len() - 1;
        {
            let offset = [i as u32 * stride];
            for (n, pass) in self.passes.iter().enumerate().skip(first) {
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

    /// Draws the batches of the step at block `i` and pairs them exactly on the host,
    /// leaving every model's permutation in `matched` for the step's path pass.
    async fn pair_on_host(&self, i: usize) -> Result<()> {
        let mut rec = self.ctx.recorder("morphogen.train.draw");
        let draw = &self.passes[0];
        let offset = [i as u32 * std::mem::size_of::<StepBlock>() as u32];
        rec.dispatch_at(&draw.kernel, &draw.group, &offset, draw.grid);
        let x0 = rec.read(&self.buffers.x0)?;
        let x1 = rec.read(&self.buffers.x1)?;
        rec.submit()?;
        let (x0, x1) = (
            x0.wait_async(&self.ctx).await?,
            x1.wait_async(&self.ctx).await?,
        );
        let d = self.layout.dim;
        let per_model = self.config.batch * d;
        let matched: Vec<u32> = x0
            .chunks(per_model)
            .zip(x1.chunks(per_model))
            .flat_map(|(a, b)| super::assign_host(a, b, d))
            .collect();
        self.buffers.matched.write(&self.ctx, &matched)
    }

    /// Records the training passes of the steps at blocks `0..count` into `rec`, pairing
    /// each on the host first when it pairs there (then each step but the last is
    /// submitted on its own, as the next one's pairing waits for its draw).
    async fn record_chunk<'r>(
        &'r self,
        mut rec: Recorder<'r>,
        count: usize,
        update: bool,
    ) -> Result<Recorder<'r>> {
        if !self.host_pairing {
            self.record_steps(&mut rec, count, update);
            return Ok(rec);
        }
        drop(rec);
        for i in 0..count {
            self.pair_on_host(i).await?;
            let mut rec = self.ctx.recorder("morphogen.train.steps");
            self.record_passes(&mut rec, i, 1, update);
            if i + 1 == count {
                return Ok(rec);
            }
            rec.submit()?;
        }
        Ok(self.ctx.recorder("morphogen.train.steps"))
    }

    fn write_step_blocks(&self, count: usize) -> Result<()> {
        let blocks: Vec<StepBlock> = (0..count)
            .map(|i| StepBlock::new(&self.config, self.step + 1 + i as u64, i as u32))
            .collect();
        self.buffers.steps.write(&self.ctx, &blocks)
    }

    /// Takes `steps` optimiser steps, `steps_per_submit` per submission, calling
    /// `progress` after each; returns the loss of every step (steps × networks: the flows,
    /// then the score networks).
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
        let models = self.config.nets();
        let mut losses = Vec::with_capacity(steps * models);
        let mut done = 0;
        while done < steps {
            let count = (steps - done).min(self.config.steps_per_submit);
            self.write_step_blocks(count)?;
            let rec = self.ctx.recorder("morphogen.train.steps");
            let mut rec = self.record_chunk(rec, count, true).await?;
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
                    "the loss of {} became {} at step {}; lower the learning rate",
                    self.net_name(bad % models),
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

    /// Takes `steps` optimiser steps (at most `steps_per_submit`; one when pairing on the
    /// host) in one profiled submission: where the time went, kernel by kernel (needs timestamp queries for the
    /// kernels' times).
    pub fn profile_steps(&mut self, steps: usize) -> Result<StepProfile> {
        // With pairing on the host each step waits for its draw: one step is profiled,
        // its draw and pairing (host time) left out.
        let n = if self.host_pairing {
            1
        } else {
            steps.clamp(1, self.config.steps_per_submit)
        };
        self.write_step_blocks(n)?;
        let passes = (n * self.dispatches_per_step()) as u32;
        if self.host_pairing {
            pollster::block_on(self.pair_on_host(0))?;
        }
        let mut rec = self
            .ctx
            .profiled_recorder("morphogen.train.profile", passes)?;
        if self.host_pairing {
            self.record_passes(&mut rec, 0, 1, true);
        } else {
            self.record_steps(&mut rec, n, true);
        }
        let dispatches = rec.dispatch_count();
        let (timing, passes) = rec.submit()?.wait_passes(&self.ctx)?;
        self.step += n as u64;
        Ok(StepProfile::of(n, dispatches, &timing, passes))
    }

    /// Computes the loss and gradients of the next step's batch without updating (and
    /// without advancing the step count): each network's parameter gradients.
    pub fn gradients(&self) -> Result<Vec<Vec<f32>>> {
        self.write_step_blocks(1)?;
        let rec = self.ctx.recorder("morphogen.train.gradients");
        let mut rec = pollster::block_on(self.record_chunk(rec, 1, false))?;
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

    /// Each network's current parameters (the flows, then the score networks).
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

    /// Each network's Adam moments (first, second).
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
        let n = self.config.nets() * self.layout.params;
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
        self.network(m, false)
    }

    /// Model `m`'s score network (SF2M) as a field: s(x, t), to add to the velocity in
    /// dx = (v + s) dt + σ dW.
    pub fn score_field(&self, m: usize) -> Result<VelocityField> {
        if !self.config.score {
            return Err(Error::invalid(
                "this run trains no score networks; set TrainConfig::score (--score)",
            ));
        }
        self.network(m, true)
    }

    fn network(&self, m: usize, score: bool) -> Result<VelocityField> {
        let models = self.config.models;
        if m >= models {
            return Err(Error::invalid(format!(
                "model {m} does not exist; this run trains {models}"
            )));
        }
        let params = self.parameters()?;
        Ok(self.layout.field(&params[m + usize::from(score) * models]))
    }

    /// "model m" or "the score network of model m", for network `n`.
    fn net_name(&self, n: usize) -> String {
        let models = self.config.models;
        if n < models {
            format!("model {n}")
        } else {
            format!("the score network of model {}", n - models)
        }
    }
}

/// The seed of the score network's initial parameters beside a flow model of seed `seed`.
pub fn score_seed(seed: u64) -> u64 {
    // A fixed odd offset (the golden ratio's bits) keeps the two networks' initial
    // parameters apart for every seed.
    seed ^ 0x9E37_79B9_7F4A_7C15
}
