//! What a training run learns from and how: the method (path, target and coupling), the
//! network's shape, the optimiser and the run's length, with TorchCFM's tutorial values
//! as defaults.

use crate::error::{Error, Result};
use crate::flow::model::{Activation, TimeInput};

/// Where OT-CFM's exact pairing runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExactPairing {
    /// On the host for a CPU adapter (the same cores, without the auction's
    /// barrier-bound rounds), else on the device.
    #[default]
    Auto,
    /// The GPU auction, inside the recorded steps.
    Device,
    /// The host auction ([`crate::flow::train::assign_host`]) between each step's draw
    /// and its training passes: one wait per step.
    Host,
}

/// The probability path, its regression target and the minibatch coupling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Independent coupling; x_t = t x1 + (1 − t) x0 + σ ε; target x1 − x0 (I-CFM).
    Icfm,
    /// As I-CFM, with each batch paired by exact optimal transport (OT-CFM).
    Otcfm,
    /// Lipman et al.'s flow matching from N(0, I): x_t = t x1 + (1 − (1 − σ) t) ε, target
    /// (x1 − (1 − σ) x_t) / (1 − (1 − σ) t). The source sampler is not used.
    Fm,
    /// Schrödinger-bridge CFM: pairs drawn from the entropic plan (ε = 2σ² by default;
    /// TorchCFM's own default is the exact plan), x_t = t x1 + (1 − t) x0 + σ √(t(1 − t)) ε,
    /// target (1 − 2t) / (2t(1 − t) + 1e-8) (x_t − μ_t) + x1 − x0. The drift only: its
    /// score network is not trained here.
    Sbcfm,
    /// UOT-FM: pairs drawn from the unbalanced entropic plan on costs divided by their
    /// mean (ε = 0.01, τ = 0.95 by default), stratified times, I-CFM's path.
    Uotfm,
}

impl Method {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Icfm => "icfm",
            Self::Otcfm => "otcfm",
            Self::Fm => "fm",
            Self::Sbcfm => "sbcfm",
            Self::Uotfm => "uotfm",
        }
    }

    /// The method of a name (`icfm`, `otcfm`, `fm`).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "icfm" => Ok(Self::Icfm),
            "otcfm" => Ok(Self::Otcfm),
            "fm" => Ok(Self::Fm),
            "sbcfm" => Ok(Self::Sbcfm),
            "uotfm" => Ok(Self::Uotfm),
            other => Err(Error::invalid(format!(
                "unknown training method {other:?}; use icfm, otcfm, fm, sbcfm or uotfm"
            ))),
        }
    }

    /// Whether batches are paired by exact optimal transport.
    pub fn exact_coupling(self) -> bool {
        self == Self::Otcfm
    }

    /// Whether batches are paired by drawing from an entropic plan.
    pub fn entropic_coupling(self) -> bool {
        matches!(self, Self::Sbcfm | Self::Uotfm)
    }

    /// The path's code in `path.wgsl` (`METHOD`).
    pub(crate) fn path_code(self) -> u32 {
        match self {
            Self::Icfm | Self::Otcfm | Self::Uotfm => 0,
            Self::Fm => 1,
            Self::Sbcfm => 2,
        }
    }

    /// Whether times are stratified over the batch: t_k = (k + U_k) / B.
    pub fn stratified_times(self) -> bool {
        self == Self::Uotfm
    }
}

/// The entropic pairing of a run: Sinkhorn's settings as the kernel receives them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntropicPairing {
    /// Regularisation, in the units of the (normalised) cost.
    pub eps: f64,
    /// ott's τ = ρ / (ρ + ε) at the final ε (1: balanced).
    pub tau: f64,
    /// Costs divided by their mean over the batch.
    pub normalize: bool,
    /// Iterations (ε halves every 4 from the largest cost down to `eps`).
    pub iterations: usize,
}

/// Where training points come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// TorchCFM's eight Gaussians: centres 5 (cos kπ/4, sin kπ/4) chosen uniformly,
    /// covariance √0.1 I (standard deviation 0.1^¼ ≈ 0.562, TorchCFM's quirk kept).
    EightGaussians,
    /// TorchCFM's moons: torchdyn's `generate_moons(B, noise=0.2)` × 3 − 1, points
    /// evenly along the two arcs of each batch plus one U[0, 0.2) shift per point.
    Moons,
    /// The checkerboard of FFJORD's toy data: x1 ~ U[−2, 2), x2 ~ U[0, 1) − 2k +
    /// (⌊x1⌋ mod 2) with k a fair coin, both times 2: eight squares of side 2.
    Checkerboard,
    /// Standard normal in `dim` dimensions.
    Normal {
        /// Dimension.
        dim: usize,
    },
    /// Rows of a point cloud, drawn uniformly with replacement.
    Points {
        /// Row-major points.
        points: Vec<f32>,
        /// Dimension.
        dim: usize,
    },
}

impl Sampler {
    /// The sampler of a task name (`8gaussians`, `moons`, `checkerboard`, `normal`), in 2-D.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "8gaussians" => Ok(Self::EightGaussians),
            "moons" => Ok(Self::Moons),
            "checkerboard" => Ok(Self::Checkerboard),
            "normal" => Ok(Self::Normal { dim: 2 }),
            other => Err(Error::invalid(format!(
                "unknown sampler {other:?}; use 8gaussians, moons, checkerboard or normal, or give points"
            ))),
        }
    }

    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        match self {
            Self::EightGaussians | Self::Moons | Self::Checkerboard => 2,
            Self::Normal { dim } | Self::Points { dim, .. } => *dim,
        }
    }

    /// Code used by `shaders/flow/train/draw.wgsl`.
    pub(crate) fn code(&self) -> u32 {
        match self {
            Self::EightGaussians => 0,
            Self::Moons => 1,
            Self::Normal { .. } => 2,
            Self::Points { .. } => 3,
            Self::Checkerboard => 4,
        }
    }

    /// Number of rows of a point cloud (0 for the built-in samplers).
    pub(crate) fn rows(&self) -> usize {
        match self {
            Self::Points { points, dim } => points.len() / (*dim).max(1),
            _ => 0,
        }
    }

    fn validate(&self, what: &str) -> Result<()> {
        match self {
            Self::Normal { dim: 0 } => Err(Error::invalid(format!(
                "the {what} sampler needs a dimension of at least 1"
            ))),
            Self::Points { points, dim } => {
                if *dim == 0 || points.is_empty() || points.len() % dim != 0 {
                    return Err(Error::invalid(format!(
                        "the {what} points must be a non-empty N x d array; got {} values for d = {dim}",
                        points.len()
                    )));
                }
                if let Some(bad) = points.iter().position(|v| !v.is_finite()) {
                    return Err(Error::invalid(format!(
                        "the {what} points hold a non-finite value at row {}, column {}",
                        bad / dim,
                        bad % dim
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The network trained: TorchCFM's `MLP(dim, w, time_varying=True)` by default
/// (Linear(d+1, w), three hidden activations, Linear(w, d)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkShape {
    /// Width of every hidden layer.
    pub width: usize,
    /// Hidden activations (layers = hidden + 1).
    pub hidden: usize,
    /// Activation after every layer but the last.
    pub activation: Activation,
    /// Where t enters the input.
    pub time: TimeInput,
    /// Hidden layers of equal width add their input (h ← h + act(W h + b)).
    pub residual: bool,
}

impl Default for NetworkShape {
    fn default() -> Self {
        Self {
            width: 64,
            hidden: 3,
            activation: Activation::Selu,
            time: TimeInput::Last,
            residual: false,
        }
    }
}

/// A training run's settings (TorchCFM's tutorial: batch 256, Adam at 1e-3, σ = 0.01).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Path, target and coupling.
    pub method: Method,
    /// σ of the path.
    pub sigma: f64,
    /// A σ per model (a sweep: model m trains with `sigmas[m]`); empty: every model
    /// uses `sigma`.
    pub sigmas: Vec<f64>,
    /// Pairs per batch.
    pub batch: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Adam's β1 and β2.
    pub betas: (f64, f64),
    /// Adam's ε.
    pub adam_eps: f64,
    /// Decoupled weight decay (AdamW) when positive.
    pub weight_decay: f64,
    /// The network.
    pub network: NetworkShape,
    /// Seed of model 0 (model m uses seed + m): initial weights and every draw.
    pub seed: u64,
    /// Independent models trained side by side in the same dispatches.
    pub models: usize,
    /// Optimiser steps recorded per submission (fewer readbacks; each dispatch stays short).
    pub steps_per_submit: usize,
    /// Entropic pairing's ε (default: 2σ² for SB-CFM, 0.01 of the mean cost for UOT-FM).
    pub coupling_eps: Option<f64>,
    /// Unbalanced pairing's τ (default 0.95 for UOT-FM, 1 for SB-CFM).
    pub tau: Option<f64>,
    /// Sinkhorn iterations of entropic pairing.
    pub sinkhorn_iterations: usize,
    /// Where exact pairing runs (OT-CFM).
    pub exact_pairing: ExactPairing,
    /// Also train a score network beside each flow model (SF2M): same shape, same batch,
    /// loss mean((λ(t) s(x_t, t) + ε)²) with λ(t) = 2 σ_t / (σ² + 1e-8), so that
    /// dx = (v + s) dt + σ dW samples the path's marginals.
    pub score: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            method: Method::Icfm,
            sigma: 0.01,
            sigmas: Vec::new(),
            batch: 256,
            steps: 20_000,
            lr: 1e-3,
            betas: (0.9, 0.999),
            adam_eps: 1e-8,
            weight_decay: 0.0,
            network: NetworkShape::default(),
            seed: 0,
            models: 1,
            steps_per_submit: 50,
            coupling_eps: None,
            tau: None,
            sinkhorn_iterations: 100,
            score: false,
            exact_pairing: ExactPairing::Auto,
        }
    }
}

impl TrainConfig {
    /// Sets the method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sets σ.
    pub fn sigma(mut self, sigma: f64) -> Self {
        self.sigma = sigma;
        self.sigmas.clear();
        self
    }

    /// Sets the batch size.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Sets the number of optimiser steps.
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Sets the learning rate.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets AdamW's weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the network's shape.
    pub fn network(mut self, network: NetworkShape) -> Self {
        self.network = network;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of models trained side by side.
    pub fn models(mut self, models: usize) -> Self {
        self.models = models;
        self
    }

    /// Sets the entropic pairing's ε.
    pub fn coupling_eps(mut self, eps: f64) -> Self {
        self.coupling_eps = Some(eps);
        self
    }

    /// Sets where exact pairing runs.
    pub fn exact_pairing(mut self, pairing: ExactPairing) -> Self {
        self.exact_pairing = pairing;
        self
    }

    /// Whether exact pairing runs on the host for a context on `ctx`'s adapter.
    pub fn pairs_on_host(&self, ctx: &crate::gpu::GpuContext) -> bool {
        self.method.exact_coupling()
            && match self.exact_pairing {
                ExactPairing::Host => true,
                ExactPairing::Device => false,
                ExactPairing::Auto => ctx.adapter().device_type.eq_ignore_ascii_case("cpu"),
            }
    }

    /// Trains model m with σ = `sigmas[m]` (one model per value: sets `models`).
    pub fn sigma_sweep(mut self, sigmas: &[f64]) -> Self {
        self.sigmas = sigmas.to_vec();
        self.models = sigmas.len();
        self
    }

    /// Model m's σ.
    pub fn sigma_of(&self, m: usize) -> f64 {
        self.sigmas.get(m).copied().unwrap_or(self.sigma)
    }

    /// This configuration for model m alone (its own σ and seed): what the twin and a
    /// single-model run of model m use.
    pub fn for_model(&self, m: usize) -> Self {
        let mut one = self.clone();
        one.sigma = self.sigma_of(m);
        one.sigmas.clear();
        one.seed = self.seed + m as u64;
        one.models = 1;
        one
    }

    /// Trains a score network beside each flow model (SF2M).
    pub fn score(mut self, score: bool) -> Self {
        self.score = score;
        self
    }

    /// Networks trained: each model's flow, then (with [`TrainConfig::score`]) each
    /// model's score.
    pub fn nets(&self) -> usize {
        self.models * (1 + usize::from(self.score))
    }

    /// Sets the unbalanced pairing's τ.
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = Some(tau);
        self
    }

    /// The entropic pairing of SB-CFM and UOT-FM (`None` for the other methods).
    pub fn entropic(&self) -> Option<EntropicPairing> {
        let (eps, tau, normalize) = match self.method {
            Method::Sbcfm => (
                self.coupling_eps.unwrap_or(2.0 * self.sigma * self.sigma),
                self.tau.unwrap_or(1.0),
                false,
            ),
            Method::Uotfm => (
                self.coupling_eps.unwrap_or(0.01),
                self.tau.unwrap_or(0.95),
                true,
            ),
            _ => return None,
        };
        Some(EntropicPairing {
            eps,
            tau,
            normalize,
            iterations: self.sinkhorn_iterations,
        })
    }

    /// Checks every setting and the samplers' agreement, once, at the boundary.
    pub fn validate(&self, source: &Sampler, target: &Sampler) -> Result<()> {
        source.validate("source")?;
        target.validate("target")?;
        if self.method != Method::Fm && source.dim() != target.dim() {
            return Err(Error::invalid(format!(
                "the source has dimension {} and the target {}; they must agree",
                source.dim(),
                target.dim()
            )));
        }
        if !self.sigmas.is_empty() && self.sigmas.len() != self.models {
            return Err(Error::invalid(format!(
                "a sigma sweep gives one sigma per model: {} sigmas for {} models",
                self.sigmas.len(),
                self.models
            )));
        }
        if !self.sigmas.is_empty() && self.method.entropic_coupling() && self.coupling_eps.is_none()
        {
            return Err(Error::invalid(
                "the entropic pairing's eps is shared by the models: give it (--eps) for a sigma sweep",
            ));
        }
        for sigma in std::iter::once(self.sigma).chain(self.sigmas.iter().copied()) {
            if !(sigma.is_finite() && sigma >= 0.0) {
                return Err(Error::invalid(format!(
                    "sigma must be finite and >= 0; got {sigma}"
                )));
            }
            if self.method == Method::Fm && sigma >= 1.0 {
                return Err(Error::invalid(format!(
                    "flow matching from noise needs sigma < 1; got {sigma}"
                )));
            }
            if self.score && sigma <= 0.0 {
                return Err(Error::invalid(
                    "a score network needs noise on the path: set sigma > 0 (its weight is 2 sigma_t / sigma^2)",
                ));
            }
        }
        if self.batch < 2 {
            return Err(Error::invalid(format!(
                "the batch must hold at least 2 pairs; got {}",
                self.batch
            )));
        }
        if self.method.exact_coupling() && self.batch > super::assign::MAX_BATCH {
            return Err(Error::invalid(format!(
                "exact OT pairing takes batches of at most {}; got {} (use --batch {} or fewer)",
                super::assign::MAX_BATCH,
                self.batch,
                super::assign::MAX_BATCH
            )));
        }
        if self.method.entropic_coupling() && self.batch > super::assign::MAX_BATCH {
            return Err(Error::invalid(format!(
                "entropic pairing takes batches of at most {}; got {}",
                super::assign::MAX_BATCH,
                self.batch
            )));
        }
        if let Some(e) = self.entropic() {
            if !(e.eps.is_finite() && e.eps > 0.0) {
                return Err(Error::invalid(format!(
                    "entropic pairing needs eps > 0; got {} (SB-CFM's default 2 sigma^2 needs sigma > 0)",
                    e.eps
                )));
            }
            if !(e.tau > 0.0 && e.tau <= 1.0) {
                return Err(Error::invalid(format!(
                    "tau must lie in (0, 1] (1: balanced); got {}",
                    e.tau
                )));
            }
            if e.iterations == 0 {
                return Err(Error::invalid("sinkhorn_iterations must be at least 1"));
            }
        }
        if self.models == 0 {
            return Err(Error::invalid("train at least one model (models >= 1)"));
        }

        if self.steps_per_submit == 0 {
            return Err(Error::invalid("steps_per_submit must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid(format!(
                "the learning rate must be positive; got {}",
                self.lr
            )));
        }
        let (b1, b2) = self.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return Err(Error::invalid(format!(
                "Adam's betas must lie in [0, 1); got ({b1}, {b2})"
            )));
        }
        if !(self.adam_eps.is_finite() && self.adam_eps > 0.0) {
            return Err(Error::invalid("Adam's eps must be positive"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::invalid("the weight decay must be >= 0"));
        }
        let net = &self.network;
        if net.width == 0 || net.hidden == 0 {
            return Err(Error::invalid(format!(
                "the network needs a width and hidden layers of at least 1; got width {} and {} hidden",
                net.width, net.hidden
            )));
        }
        if net.width > super::layout::MAX_WIDTH {
            return Err(Error::invalid(format!(
                "hidden width {} exceeds the trainer's {}",
                net.width,
                super::layout::MAX_WIDTH
            )));
        }
        if !matches!(
            net.activation,
            Activation::Selu
                | Activation::Elu
                | Activation::Silu
                | Activation::Relu
                | Activation::Tanh
                | Activation::Gelu
                | Activation::Softplus
        ) {
            return Err(Error::invalid(format!(
                "activation {:?} is not trainable here; use selu, elu, silu, relu, tanh, gelu or softplus",
                net.activation
            )));
        }
        Ok(())
    }
}
