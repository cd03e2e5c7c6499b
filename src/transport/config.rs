//! Solver settings: entropic regularisation, marginal relaxation, ε-scaling, stopping.

use crate::error::{Error, Result};

/// The entropic regularisation strength ε.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Epsilon {
    /// ε as given.
    Absolute(f32),
    /// ε = factor × the mean of the cost over all pairs (as OTT's `relative_epsilon="mean"`).
    RelativeMean(f32),
    /// ε = factor × the standard deviation of the cost over all pairs (OTT's `"std"`).
    RelativeStd(f32),
}

/// How one marginal constraint is enforced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marginal {
    /// Hard constraint (ρ = ∞, τ = 1).
    Hard,
    /// Soft constraint with KL penalty strength ρ > 0 (GeomLoss's `reach`, POT's `reg_m`).
    Rho(f32),
    /// Soft constraint given as τ = ρ / (ρ + ε) ∈ (0, 1] at the target ε (OTT's `tau_a`).
    Tau(f32),
}

impl Marginal {
    /// 1/ρ at the target ε (0 for a hard constraint).
    pub(crate) fn inv_rho(self, eps: f64) -> f64 {
        match self {
            Self::Hard => 0.0,
            Self::Rho(rho) => 1.0 / f64::from(rho),
            Self::Tau(tau) if tau >= 1.0 => 0.0,
            // τ = ρ/(ρ+ε)  ⇔  1/ρ = (1 − τ) / (τ ε)
            Self::Tau(tau) => (1.0 - f64::from(tau)) / (f64::from(tau) * eps),
        }
    }

    fn validate(self, side: &str) -> Result<()> {
        match self {
            Self::Hard => Ok(()),
            Self::Rho(rho) if rho > 0.0 && rho.is_finite() => Ok(()),
            Self::Rho(rho) => Err(Error::invalid(format!(
                "rho_{side} = {rho}: the marginal penalty must be a positive finite number \
                 (use a hard constraint for rho = infinity)"
            ))),
            Self::Tau(tau) if tau > 0.0 && tau <= 1.0 => Ok(()),
            Self::Tau(tau) => Err(Error::invalid(format!(
                "tau_{side} = {tau}: tau must lie in (0, 1] (1 is a hard constraint, smaller \
                 relaxes the marginal)"
            ))),
        }
    }
}

/// Where the entropy enters, which decides what the potentials mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convention {
    /// ε KL(P | a⊗b): GeomLoss, POT `reg_type="kl"`. P = a_i b_j exp((f_i + g_j − C_ij)/ε).
    KlProduct,
    /// −ε H(P): OTT-JAX, POT `reg_type="entropy"`. P = exp((f_i + g_j − C_ij)/ε).
    /// Same plan as `KlProduct` when balanced; potentials differ by ε log a, ε log b.
    Entropy,
}

impl Convention {
    /// Parses `kl` (ε KL(P | a⊗b), POT's `reg_type="kl"`) or `entropy` (−ε H(P), OTT-JAX).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "kl" => Some(Self::KlProduct),
            "entropy" => Some(Self::Entropy),
            _ => None,
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::KlProduct => "kl(P|a⊗b)",
            Self::Entropy => "entropy H(P)",
        }
    }
}

/// Anderson acceleration of the Sinkhorn fixed point (as OTT-JAX's `AndersonAcceleration`):
/// every `refresh_every` iterations the target potential g is replaced by the combination
/// Σ_k w_k G(g_k) of the last `memory` iterates' images whose residuals G(g_k) − g_k have
/// the least norm, w = (R̂ᵀR̂ + ridge I)⁻¹1 normalised to sum 1, R̂ᵀR̂ the residuals' Gram
/// matrix scaled to unit Frobenius norm. The history starts once ε has reached its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anderson {
    /// Iterates combined, 1 to [`Anderson::MAX_MEMORY`]. Default 5.
    pub memory: usize,
    /// Extrapolate every this many iterations. Default 1.
    pub refresh_every: usize,
    /// Ridge added to the scaled Gram matrix. Default 1e-4: OTT's 1e-2 damps the
    /// extrapolation until it is slower than plain iterations (a 150 × 120 problem at
    /// ε = 0.005 × mean cost converges to 1e-3 in about 570 plain iterations, 730 with
    /// OTT's memory 2 and ridge 1e-2, and about 100 with ridge 1e-4, in OTT and here alike).
    pub ridge: f32,
}

impl Anderson {
    /// The largest memory the GPU kernels hold.
    pub const MAX_MEMORY: usize = 8;

    /// Anderson acceleration over `memory` iterates, with the other settings at their
    /// defaults.
    pub fn with_memory(memory: usize) -> Self {
        Self {
            memory,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if !(1..=Self::MAX_MEMORY).contains(&self.memory) {
            return Err(Error::invalid(format!(
                "anderson memory = {}: combine between 1 and {} iterates (2 to 5 is usual)",
                self.memory,
                Self::MAX_MEMORY
            )));
        }
        if self.refresh_every == 0 {
            return Err(Error::invalid(
                "anderson refresh_every must be at least 1 (1 extrapolates every iteration)",
            ));
        }
        if !(self.ridge > 0.0 && self.ridge.is_finite()) {
            return Err(Error::invalid(format!(
                "anderson ridge = {}: the ridge must be a positive finite number, e.g. 1e-2",
                self.ridge
            )));
        }
        Ok(())
    }
}

impl Default for Anderson {
    fn default() -> Self {
        Self {
            memory: 5,
            refresh_every: 1,
            ridge: 1e-4,
        }
    }
}

/// Where the iterations of a point-cloud problem take their costs from. Problems given as
/// a cost matrix always read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostStorage {
    /// Recomputed from the points in every half-iteration: no n × m memory at all.
    Online,
    /// Computed once into an n × m matrix, which the iterations stream (the target side's
    /// pass reads it down its columns: no transpose is stored).
    /// Refused with an error when one copy exceeds a storage binding or the points have
    /// more than 64 dimensions.
    Matrix,
    /// The matrix when the points have at least `min_dim` dimensions and it fits
    /// in `budget_bytes` (written in windows when it exceeds a binding); online otherwise.
    Auto {
        /// Smallest dimension worth storing: below it a cost is cheaper to recompute than
        /// to load.
        min_dim: usize,
        /// GPU memory the matrix may take.
        budget_bytes: u64,
    },
}

impl Default for CostStorage {
    /// `Auto` from 16 dimensions within 1 GiB.
    fn default() -> Self {
        Self::Auto {
            min_dim: 16,
            budget_bytes: 1 << 30,
        }
    }
}

/// Settings of a Sinkhorn solve. Build with the setters:
///
/// ```
/// use morphogen::transport::SinkhornConfig;
/// let config = SinkhornConfig::default().eps(0.05).tau(0.95).max_iter(500);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SinkhornConfig {
    /// Regularisation strength. Default: 0.05 × mean cost.
    pub epsilon: Epsilon,
    /// Constraint on the source marginal. Default: hard.
    pub marginal_a: Marginal,
    /// Constraint on the target marginal. Default: hard.
    pub marginal_b: Marginal,
    /// ε-scaling: anneal ε geometrically by this factor per iteration from the largest cost
    /// down to the target. `None` (default) solves at the target ε throughout.
    pub eps_decay: Option<f32>,
    /// Iteration cap. Default 2000.
    pub max_iter: usize,
    /// Stop once the marginal error is at most this. Default 1e-3.
    pub threshold: f32,
    /// Check the error every this many iterations. Default 10.
    pub check_every: usize,
    /// Over-relaxation ω ∈ (0, 2): f ← (1−ω) f + ω f̂. Default 1 (plain Sinkhorn).
    pub momentum: f32,
    /// Choose ω from the observed convergence rate (Lehmann et al. 2021): plain
    /// iterations until two error checks at the target ε, then ω = 2 / (1 + √(1 − θ))
    /// with θ the measured per-iteration contraction, kept from then on. Default off.
    pub adaptive_momentum: bool,
    /// Anderson acceleration; replaces over-relaxation. Default off.
    pub anderson: Option<Anderson>,
    /// Convention of the entropic term. Default: KL(P | a⊗b).
    pub convention: Convention,
    /// Relative mismatch of total masses tolerated (and corrected) in a balanced problem.
    /// Default 1e-5.
    pub mass_tolerance: f32,
    /// Costs streamed from a stored matrix or recomputed from the points. Default:
    /// [`CostStorage::default`].
    pub cost_storage: CostStorage,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        Self {
            epsilon: Epsilon::RelativeMean(0.05),
            marginal_a: Marginal::Hard,
            marginal_b: Marginal::Hard,
            eps_decay: None,
            max_iter: 2000,
            threshold: 1e-3,
            check_every: 10,
            momentum: 1.0,
            adaptive_momentum: false,
            anderson: None,
            convention: Convention::KlProduct,
            mass_tolerance: 1e-5,
            cost_storage: CostStorage::default(),
        }
    }
}

impl SinkhornConfig {
    /// Absolute ε.
    pub fn eps(mut self, eps: f32) -> Self {
        self.epsilon = Epsilon::Absolute(eps);
        self
    }

    /// ε = factor × mean cost.
    pub fn eps_rel(mut self, factor: f32) -> Self {
        self.epsilon = Epsilon::RelativeMean(factor);
        self
    }

    /// ε = factor × standard deviation of the cost.
    pub fn eps_rel_std(mut self, factor: f32) -> Self {
        self.epsilon = Epsilon::RelativeStd(factor);
        self
    }

    /// The same τ on both marginals.
    pub fn tau(self, tau: f32) -> Self {
        self.tau_a(tau).tau_b(tau)
    }

    /// τ of the source marginal.
    pub fn tau_a(mut self, tau: f32) -> Self {
        self.marginal_a = Marginal::Tau(tau);
        self
    }

    /// τ of the target marginal.
    pub fn tau_b(mut self, tau: f32) -> Self {
        self.marginal_b = Marginal::Tau(tau);
        self
    }

    /// The same ρ on both marginals.
    pub fn rho(self, rho: f32) -> Self {
        self.rho_a(rho).rho_b(rho)
    }

    /// ρ of the source marginal.
    pub fn rho_a(mut self, rho: f32) -> Self {
        self.marginal_a = Marginal::Rho(rho);
        self
    }

    /// ρ of the target marginal.
    pub fn rho_b(mut self, rho: f32) -> Self {
        self.marginal_b = Marginal::Rho(rho);
        self
    }

    /// Turns ε-scaling on with this decay per iteration (e.g. 0.9).
    pub fn eps_scaling(mut self, decay: f32) -> Self {
        self.eps_decay = Some(decay);
        self
    }

    /// Iteration cap.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Marginal-error threshold.
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// Error check period.
    pub fn check_every(mut self, k: usize) -> Self {
        self.check_every = k;
        self
    }

    /// Over-relaxation ω.
    pub fn momentum(mut self, omega: f32) -> Self {
        self.momentum = omega;
        self
    }

    /// Turns on adaptive over-relaxation.
    pub fn adaptive_momentum(mut self) -> Self {
        self.adaptive_momentum = true;
        self
    }

    /// Turns on Anderson acceleration.
    pub fn anderson(mut self, anderson: Anderson) -> Self {
        self.anderson = Some(anderson);
        self
    }

    /// Convention of the entropic term.
    pub fn convention(mut self, convention: Convention) -> Self {
        self.convention = convention;
        self
    }

    /// Where the iterations take their costs from.
    pub fn cost_storage(mut self, storage: CostStorage) -> Self {
        self.cost_storage = storage;
        self
    }

    /// Whether both marginals are hard.
    pub fn is_balanced(&self) -> bool {
        self.marginal_a.inv_rho(1.0) == 0.0 && self.marginal_b.inv_rho(1.0) == 0.0
    }

    /// Checks every setting; called once by the solvers.
    pub fn validate(&self) -> Result<()> {
        let factor = match self.epsilon {
            Epsilon::Absolute(e) | Epsilon::RelativeMean(e) | Epsilon::RelativeStd(e) => e,
        };
        if !(factor > 0.0 && factor.is_finite()) {
            return Err(Error::invalid(format!(
                "epsilon = {factor}: the entropic regularisation must be a positive finite number"
            )));
        }
        self.marginal_a.validate("a")?;
        self.marginal_b.validate("b")?;
        if let Some(decay) = self.eps_decay {
            if !(decay > 0.0 && decay < 1.0) {
                return Err(Error::invalid(format!(
                    "eps_decay = {decay}: the epsilon-scaling factor must lie in (0, 1), e.g. 0.9"
                )));
            }
        }
        if self.max_iter == 0 {
            return Err(Error::invalid("max_iter must be at least 1"));
        }
        if self.check_every == 0 {
            return Err(Error::invalid("check_every must be at least 1"));
        }
        if !(self.threshold >= 0.0 && self.threshold.is_finite()) {
            return Err(Error::invalid(format!(
                "threshold = {}: must be finite and >= 0",
                self.threshold
            )));
        }
        if !(self.momentum > 0.0 && self.momentum < 2.0) {
            return Err(Error::invalid(format!(
                "momentum = {}: over-relaxation converges for omega in (0, 2); 1 is plain Sinkhorn",
                self.momentum
            )));
        }
        if let Some(anderson) = &self.anderson {
            anderson.validate()?;
            if self.momentum != 1.0 || self.adaptive_momentum {
                return Err(Error::invalid(
                    "Anderson acceleration replaces over-relaxation: leave momentum at 1 and \
                     adaptive momentum off, or turn Anderson off",
                ));
            }
        }
        if self.mass_tolerance.is_nan() || self.mass_tolerance < 0.0 {
            return Err(Error::invalid("mass_tolerance must be >= 0"));
        }
        Ok(())
    }
}
