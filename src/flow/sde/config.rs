//! SDE settings, branches, the step schedule and results.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::flow::model::VelocityField;

/// The SDE scheme (fixed steps, additive noise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdeSolver {
    /// Euler–Maruyama: strong order 0.5 (1 for additive noise), one drift per step.
    #[serde(rename = "em")]
    EulerMaruyama,
    /// Rößler's SRA1: strong order 1.5 for additive noise, two drifts per step.
    Sra1,
}

impl SdeSolver {
    /// Parses a scheme name: `em` (or `euler-maruyama`) or `sra1`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "em" | "euler-maruyama" => Some(Self::EulerMaruyama),
            "sra1" => Some(Self::Sra1),
            _ => None,
        }
    }

    /// Drift evaluations per step.
    pub fn stages(self) -> usize {
        match self {
            Self::EulerMaruyama => 1,
            Self::Sra1 => 2,
        }
    }
}

/// The diffusion coefficient σ(t) of dx = a dt + σ(t) dW.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Diffusion {
    /// σ(t) = σ.
    Constant(f64),
    /// σ(t) = σ √(t (1 − t)), the Brownian-bridge schedule of SF2M (t in [0, 1]).
    Bridge(f64),
}

impl Diffusion {
    /// σ(t).
    pub fn at(self, t: f64) -> f64 {
        match self {
            Self::Constant(s) => s,
            Self::Bridge(s) => s * (t * (1.0 - t)).max(0.0).sqrt(),
        }
    }

    /// The scale σ.
    pub fn scale(self) -> f64 {
        match self {
            Self::Constant(s) | Self::Bridge(s) => s,
        }
    }
}

/// How a growth head g(x, t) changes a particle's weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Growth {
    /// d log w/dt = g: w(t) = w(0) exp(∫ g dt).
    #[serde(rename = "log")]
    LogWeight,
    /// dw/dt = g (Branched SBM's additive mass).
    Additive,
}

impl Growth {
    /// Parses a growth mode: `log` (d log w = g dt) or `additive` (dw = g dt).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "log" => Some(Self::LogWeight),
            "additive" => Some(Self::Additive),
            _ => None,
        }
    }
}

/// The networks of one branch: a velocity field, optionally a score network (the drift
/// is v + s forward in time, −v + s backward) and a growth head (a scalar network).
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// v(x, t[, c]); a scalar network gives v = ∇ₓ s.
    pub velocity: VelocityField,
    /// The score term s(x, t[, c]) added to the drift (SF2M), if any.
    pub score: Option<VelocityField>,
    /// The growth head g(x, t[, c]) (one output), if any.
    pub growth: Option<VelocityField>,
}

impl Branch {
    /// A branch with a velocity field only.
    pub fn new(velocity: VelocityField) -> Self {
        Self {
            velocity,
            score: None,
            growth: None,
        }
    }

    /// Adds a score network.
    pub fn score(mut self, score: VelocityField) -> Self {
        self.score = Some(score);
        self
    }

    /// Adds a growth head.
    pub fn growth(mut self, growth: VelocityField) -> Self {
        self.growth = Some(growth);
        self
    }

    /// The networks in kernel order (velocity, score, growth).
    pub(crate) fn nets(&self) -> [Option<&VelocityField>; 3] {
        [
            Some(&self.velocity),
            self.score.as_ref(),
            self.growth.as_ref(),
        ]
    }
}

/// Settings of a stochastic (or weighted) simulation. Build with the setters:
///
/// ```
/// use morphogen::flow::sde::{Diffusion, SdeConfig, SdeSolver};
/// let config = SdeConfig::default()
///     .solver(SdeSolver::EulerMaruyama)
///     .diffusion(Diffusion::Bridge(1.0))
///     .steps(200)
///     .save_at(&[0.5, 1.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SdeConfig {
    /// The scheme. Default SRA1.
    pub solver: SdeSolver,
    /// Start time. Default 0.
    pub t0: f64,
    /// End time (below t0: the reverse-time SDE, drift −v + s). Default 1.
    pub t1: f64,
    /// Steps from t0 to t1; each interval between save times gets its share, rounded up,
    /// so save times fall on steps. Default 100.
    pub steps: usize,
    /// Times at which states (and weights) are saved, in the direction of integration.
    /// Default: t1 only. The simulation ends at the last one.
    pub save_at: Vec<f64>,
    /// σ(t). Default: constant 0 (an ODE, solved by Euler or Ralston's RK2).
    pub diffusion: Diffusion,
    /// Seed of the Brownian increments (and of resampling).
    pub seed: u64,
    /// How growth heads change weights. Default log-weight.
    pub growth: Growth,
    /// Each branch's starting weight per particle; empty: 1/K for K branches.
    pub initial_weights: Vec<f64>,
    /// Resample a branch systematically at a save time where its effective sample size
    /// falls below this fraction of the particles (over all of them, whatever the
    /// chunking: every chunk then stays resident). Default: never.
    pub resample_below: Option<f64>,
    /// Index of the first particle in the whole set: the noise is keyed by it, so a run
    /// over rows a..b of a set (a shard) equals those rows of the whole run. Default 0.
    pub particle_offset: usize,
    /// Particles one GPU invocation advances together (1 to 8; 0 chooses), as
    /// [`crate::flow::FlowConfig::slots`]. Default 0.
    pub slots: usize,
}

impl Default for SdeConfig {
    fn default() -> Self {
        Self {
            solver: SdeSolver::Sra1,
            t0: 0.0,
            t1: 1.0,
            steps: 100,
            save_at: Vec::new(),
            diffusion: Diffusion::Constant(0.0),
            seed: 0,
            growth: Growth::LogWeight,
            initial_weights: Vec::new(),
            resample_below: None,
            particle_offset: 0,
            slots: 0,
        }
    }
}

impl SdeConfig {
    /// The scheme.
    pub fn solver(mut self, solver: SdeSolver) -> Self {
        self.solver = solver;
        self
    }

    /// Integrate from t0 to t1.
    pub fn span(mut self, t0: f64, t1: f64) -> Self {
        self.t0 = t0;
        self.t1 = t1;
        self
    }

    /// Steps from t0 to t1.
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Save at these times.
    pub fn save_at(mut self, times: &[f64]) -> Self {
        self.save_at = times.to_vec();
        self
    }

    /// σ(t).
    pub fn diffusion(mut self, diffusion: Diffusion) -> Self {
        self.diffusion = diffusion;
        self
    }

    /// Seed of the noise.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How growth heads change weights.
    pub fn growth(mut self, growth: Growth) -> Self {
        self.growth = growth;
        self
    }

    /// Starting weight of each branch.
    pub fn initial_weights(mut self, weights: &[f64]) -> Self {
        self.initial_weights = weights.to_vec();
        self
    }

    /// Systematic resampling below this ESS fraction.
    pub fn resample_below(mut self, fraction: f64) -> Self {
        self.resample_below = Some(fraction);
        self
    }

    /// The index of the first particle in the whole set.
    pub fn particle_offset(mut self, offset: usize) -> Self {
        self.particle_offset = offset;
        self
    }

    /// Particles one GPU invocation advances together (1 to 8; 0 chooses).
    pub fn slots(mut self, slots: usize) -> Self {
        self.slots = slots;
        self
    }

    /// The slots per invocation for states of `components` values.
    pub(crate) fn slots_for(&self, components: usize) -> usize {
        crate::flow::FlowConfig::default()
            .slots(self.slots)
            .slots_for(components)
    }

    /// The save times, defaulting to t1.
    pub fn save_times(&self) -> Vec<f64> {
        if self.save_at.is_empty() {
            vec![self.t1]
        } else {
            self.save_at.clone()
        }
    }

    /// Starting weight of branch k of `branches`.
    pub fn initial_weight(&self, k: usize, branches: usize) -> f64 {
        self.initial_weights
            .get(k)
            .copied()
            .unwrap_or(1.0 / branches as f64)
    }

    /// Checks the settings against the branches.
    pub fn validate(&self, branches: &[Branch]) -> Result<()> {
        if branches.is_empty() {
            return Err(Error::invalid(
                "give at least one branch (a velocity field)",
            ));
        }
        let flow = crate::flow::FlowConfig::default()
            .span(self.t0, self.t1)
            .save_at(&self.save_at)
            .solver(crate::flow::Solver::Euler)
            .steps(self.steps)
            .slots(self.slots);
        flow.validate()?;
        let sigma = self.diffusion.scale();
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(Error::invalid(format!(
                "sigma = {sigma}: the diffusion scale must be finite and non-negative"
            )));
        }
        if matches!(self.diffusion, Diffusion::Bridge(_))
            && (self.t0.min(self.t1) < 0.0 || self.t0.max(self.t1) > 1.0)
        {
            return Err(Error::invalid(
                "the bridge diffusion sigma sqrt(t (1 - t)) is defined on [0, 1]; keep t0 and t1 there",
            ));
        }
        if !self.initial_weights.is_empty() && self.initial_weights.len() != branches.len() {
            return Err(Error::invalid(format!(
                "{} initial weights for {} branches; give one per branch or none",
                self.initial_weights.len(),
                branches.len()
            )));
        }
        for (k, &w) in self.initial_weights.iter().enumerate() {
            let ok = w.is_finite() && (w > 0.0 || (w == 0.0 && self.growth == Growth::Additive));
            if !ok {
                return Err(Error::invalid(format!(
                    "initial weight {w} of branch {k}: weights must be finite and positive \
                     (zero is allowed with additive growth)"
                )));
            }
        }
        if let Some(f) = self.resample_below {
            if !(f > 0.0 && f <= 1.0) {
                return Err(Error::invalid(format!(
                    "resample_below = {f}: give a fraction of the particles in (0, 1]"
                )));
            }
        }
        let first = &branches[0].velocity;
        for (k, branch) in branches.iter().enumerate() {
            for (role, net) in ["velocity", "score", "growth"].iter().zip(branch.nets()) {
                let Some(net) = net else { continue };
                net.validate()
                    .map_err(|e| Error::invalid(format!("branch {k}, {role} network: {e}")))?;
                if net.dim != first.dim || net.cond_dim != first.cond_dim {
                    return Err(Error::invalid(format!(
                        "branch {k}, {role} network: dimension {} and conditioning {} differ \
                         from branch 0's velocity field ({} and {})",
                        net.dim, net.cond_dim, first.dim, first.cond_dim
                    )));
                }
            }
            if let Some(g) = &branch.growth {
                if !g.scalar {
                    return Err(Error::invalid(format!(
                        "branch {k}: a growth head gives one value per particle; export it as a \
                         scalar network (\"scalar\": true in its spec)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether particles carry weights (some branch has a growth head, or there are
    /// several branches).
    pub(crate) fn weighted(&self, branches: &[Branch]) -> bool {
        branches.len() > 1 || branches.iter().any(|b| b.growth.is_some())
    }

    /// The step schedule: one segment per save time.
    pub(crate) fn schedule(&self) -> Vec<Segment> {
        let nominal = (self.t1 - self.t0).abs() / self.steps as f64;
        let mut segments = Vec::new();
        let (mut t, mut first_step) = (self.t0, 0usize);
        for (save, &ts) in self.save_times().iter().enumerate() {
            let span = ts - t;
            let steps = if span == 0.0 {
                0
            } else {
                ((span.abs() / nominal - 1e-9).ceil() as usize).max(1)
            };
            segments.push(Segment {
                t_start: t,
                h: if steps == 0 { 0.0 } else { span / steps as f64 },
                steps,
                first_step,
                save,
            });
            first_step += steps;
            t = ts;
        }
        segments
    }
}

/// Steps from one save time to the next.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub t_start: f64,
    pub h: f64,
    pub steps: usize,
    /// Global index of the first step (keys the noise).
    pub first_step: usize,
    pub save: usize,
}

impl Segment {
    /// The time after `s` steps (the last one lands exactly on the save time).
    pub fn time(&self, s: usize) -> f64 {
        self.t_start + s as f64 * self.h
    }
}

/// The result of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct SdeResult {
    /// The save times.
    pub times: Vec<f64>,
    /// Particles per branch.
    pub particles: usize,
    /// Branches.
    pub branches: usize,
    /// State dimension.
    pub dim: usize,
    /// States: times × branches × particles × dim.
    pub states: Vec<f32>,
    /// Weights w (not log w): times × branches × particles; None when unweighted.
    pub weights: Option<Vec<f32>>,
    /// Total weight of each branch at each save time (times × branches).
    pub mass: Vec<f64>,
    /// Effective sample size (Σw)² / Σw² of each branch at each save time.
    pub ess: Vec<f64>,
    /// (save index, branch) of each resampling, done after that save.
    pub resampled: Vec<(usize, usize)>,
    /// Steps taken.
    pub steps: usize,
    /// Drift evaluations per particle and branch.
    pub evaluations: usize,
}

impl SdeResult {
    /// The state of particle `p` of branch `b` at save index `k`.
    pub fn state(&self, k: usize, b: usize, p: usize) -> &[f32] {
        let at = ((k * self.branches + b) * self.particles + p) * self.dim;
        &self.states[at..at + self.dim]
    }

    /// Writes `states.npy` (times × branches × particles × dim) and, when weighted,
    /// `weights.npy` (times × branches × particles) into `dir`, each file whole.
    pub fn save_npy(&self, dir: &std::path::Path) -> Result<()> {
        let (t, k, n) = (self.times.len(), self.branches, self.particles);
        crate::io::npy::write(&dir.join("states.npy"), &self.states, &[t, k, n, self.dim])?;
        if let Some(w) = &self.weights {
            crate::io::npy::write(&dir.join("weights.npy"), w, &[t, k, n])?;
        }
        Ok(())
    }

    /// The weight of particle `p` of branch `b` at save index `k` (1 when unweighted).
    pub fn weight(&self, k: usize, b: usize, p: usize) -> f32 {
        self.weights
            .as_ref()
            .map_or(1.0, |w| w[(k * self.branches + b) * self.particles + p])
    }
}
