//! Integration settings and results.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::flow::tableau::Solver;

/// Whether and how the change of log-density along each trajectory is integrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogDensity {
    /// Not computed.
    Off,
    /// Exact divergence from d forward-mode tangents (cost ~ 2d evaluations; small d).
    Exact,
    /// Hutchinson's estimator εᵀ J ε with one fixed Rademacher probe per particle.
    Hutchinson,
    /// Central differences of v along each coordinate (2d + 1 forward evaluations, no
    /// tangents): the forward-only log-Jacobian used to reweight Boltzmann-generator
    /// samples, and the one mode that works for scalar (gradient) fields.
    Central,
}

impl LogDensity {
    /// Parses a mode name: `exact`, `hutchinson` or `central` (`Off` is no mode).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "exact" => Some(Self::Exact),
            "hutchinson" => Some(Self::Hutchinson),
            "central" => Some(Self::Central),
            _ => None,
        }
    }
}

/// Settings of an integration. Build with the setters:
///
/// ```
/// use morphogen::flow::{FlowConfig, Solver};
/// let config = FlowConfig::default().solver(Solver::Tsit5).span(0.0, 1.0).tolerances(1e-6, 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FlowConfig {
    /// The integrator. Default: Dopri5.
    pub solver: Solver,
    /// Start time. Default 0.
    pub t0: f64,
    /// End time (may be below `t0`: integration runs backward). Default 1.
    pub t1: f64,
    /// Steps of a fixed-step solver from t0 to t1. Default 100.
    pub steps: usize,
    /// Relative tolerance of adaptive solvers. Default 1e-5.
    pub rtol: f64,
    /// Absolute tolerance of adaptive solvers. Default 1e-5.
    pub atol: f64,
    /// Times at which states are saved, in the direction of integration, within
    /// [t0, t1]. Default: t1 only.
    pub save_at: Vec<f64>,
    /// Most steps (accepted and rejected) one particle may take. Default 10,000.
    pub max_steps: usize,
    /// One step size for the whole batch from the RMS error over all particles, as
    /// torchdiffeq does (for comparison). Default off: every particle steps on its own.
    pub shared_step: bool,
    /// Log-density change along the flow. Default off.
    pub log_density: LogDensity,
    /// Seed of Hutchinson's probes.
    pub seed: u64,
    /// Relative step δ of central differences: coordinate k moves by δ · max(1, |x_k|).
    /// Default 3e-3 (near the f32 optimum, where rounding error ~ 1e-7/δ meets the
    /// truncation error ~ δ²).
    pub central_step: f64,
    /// Particles one GPU invocation advances together (1 to 8; 0 chooses): each weight
    /// read feeds this many multiply-adds, and the invocation's private state grows with
    /// it. Default 0: 4 for states of up to 16 dimensions, 2 above (at d = 64, 2 slots
    /// run a 4x256 network 1.26x faster than 1; a cold compile on lavapipe takes about
    /// 8 s with either, and grows with the accumulators a wide layer keeps, slots x 16).
    pub slots: usize,
    /// Where the adapter has subgroup operations (subgroups of at least 4), layers wider
    /// than 64 inputs read a block of weights once per subgroup, one per lane, and
    /// broadcast them, instead of every invocation reading every weight (on lavapipe the
    /// 4x256 network runs 1.9x faster). Default on; results are bit for bit the same.
    pub subgroups: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            solver: Solver::Dopri5,
            t0: 0.0,
            t1: 1.0,
            steps: 100,
            rtol: 1e-5,
            atol: 1e-5,
            save_at: Vec::new(),
            max_steps: 10_000,
            shared_step: false,
            log_density: LogDensity::Off,
            seed: 0,
            central_step: 3e-3,
            slots: 0,
            subgroups: true,
        }
    }
}

impl FlowConfig {
    /// The integrator.
    pub fn solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }

    /// Integrate from t0 to t1.
    pub fn span(mut self, t0: f64, t1: f64) -> Self {
        self.t0 = t0;
        self.t1 = t1;
        self
    }

    /// Steps of a fixed-step solver.
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// rtol and atol of an adaptive solver.
    pub fn tolerances(mut self, rtol: f64, atol: f64) -> Self {
        self.rtol = rtol;
        self.atol = atol;
        self
    }

    /// Save states at these times.
    pub fn save_at(mut self, times: &[f64]) -> Self {
        self.save_at = times.to_vec();
        self
    }

    /// Per-particle step cap.
    pub fn max_steps(mut self, max_steps: usize) -> Self {
        self.max_steps = max_steps;
        self
    }

    /// Batch-wide step size (torchdiffeq's behaviour).
    pub fn shared_step(mut self, shared: bool) -> Self {
        self.shared_step = shared;
        self
    }

    /// Integrate the log-density change.
    pub fn log_density(mut self, mode: LogDensity, seed: u64) -> Self {
        self.log_density = mode;
        self.seed = seed;
        self
    }

    /// The relative step of central differences.
    pub fn central_step(mut self, step: f64) -> Self {
        self.central_step = step;
        self
    }

    /// The save times, defaulting to t1.
    pub fn save_times(&self) -> Vec<f64> {
        if self.save_at.is_empty() {
            vec![self.t1]
        } else {
            self.save_at.clone()
        }
    }

    /// Particles one GPU invocation advances together (1 to 8; 0 chooses).
    pub fn slots(mut self, slots: usize) -> Self {
        self.slots = slots;
        self
    }

    /// Whether wide layers may read their weights through subgroup broadcasts.
    pub fn subgroups(mut self, on: bool) -> Self {
        self.subgroups = on;
        self
    }

    /// The slots per invocation for states of `components` values (the setting, or the
    /// default choice).
    pub fn slots_for(&self, components: usize) -> usize {
        match self.slots {
            0 if components <= 17 => 4,
            0 => 2,
            n => n,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.t0.is_finite() && self.t1.is_finite()) {
            return Err(Error::invalid("t0 and t1 must be finite"));
        }
        if self.t0 == self.t1 {
            return Err(Error::invalid(format!(
                "t0 = t1 = {}: the time span is empty; give two different times",
                self.t0
            )));
        }
        if self.solver.is_adaptive() {
            if !(self.rtol > 0.0
                && self.rtol.is_finite()
                && self.atol >= 0.0
                && self.atol.is_finite())
            {
                return Err(Error::invalid(format!(
                    "rtol = {}, atol = {}: tolerances must be finite, rtol > 0 and atol >= 0",
                    self.rtol, self.atol
                )));
            }
        } else if self.steps == 0 {
            return Err(Error::invalid(
                "a fixed-step solver needs at least one step",
            ));
        }
        if !(self.central_step > 0.0 && self.central_step < 1.0) {
            return Err(Error::invalid(format!(
                "central_step = {}: the relative step of central differences must lie in (0, 1)",
                self.central_step
            )));
        }
        if self.max_steps == 0 {
            return Err(Error::invalid("max_steps must be at least 1"));
        }
        if self.slots > 8 {
            return Err(Error::invalid(format!(
                "slots = {}: particles per invocation must lie in 1..=8 (0 chooses)",
                self.slots
            )));
        }
        let dir = (self.t1 - self.t0).signum();
        let times = self.save_times();
        for (k, &t) in times.iter().enumerate() {
            if !t.is_finite() || dir * (t - self.t0) < 0.0 || dir * (t - self.t1) > 0.0 {
                return Err(Error::invalid(format!(
                    "save time {t} lies outside [{}, {}]",
                    self.t0.min(self.t1),
                    self.t0.max(self.t1)
                )));
            }
            if k > 0 && dir * (t - times[k - 1]) <= 0.0 {
                return Err(Error::invalid(format!(
                    "save times must increase in the direction of integration ({} then {t})",
                    times[k - 1]
                )));
            }
        }
        Ok(())
    }
}

/// The result of integrating a set of particles.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowResult {
    /// The save times.
    pub times: Vec<f64>,
    /// Particles.
    pub particles: usize,
    /// State dimension.
    pub dim: usize,
    /// States at the save times: times × particles × dim.
    pub states: Vec<f32>,
    /// ∫ −div v dt from t0 to each save time (times × particles), so that
    /// log p_t(x_t) = log p_0(x_0) + change.
    pub log_density_change: Option<Vec<f32>>,
    /// Network evaluations per particle.
    pub evaluations: Vec<u32>,
    /// Accepted steps per particle.
    pub accepted: Vec<u32>,
    /// Rejected steps per particle.
    pub rejected: Vec<u32>,
    /// Particles that reached `max_steps` before t1 (their later saves are not valid).
    pub capped: Vec<usize>,
}

impl FlowResult {
    /// Writes `states.npy` (times × particles × dim) and, with a log-density,
    /// `logp.npy` (times × particles) into `dir`, each file whole.
    pub fn save_npy(&self, dir: &std::path::Path) -> Result<()> {
        let (t, n) = (self.times.len(), self.particles);
        crate::io::npy::write(&dir.join("states.npy"), &self.states, &[t, n, self.dim])?;
        if let Some(logp) = &self.log_density_change {
            crate::io::npy::write(&dir.join("logp.npy"), logp, &[t, n])?;
        }
        Ok(())
    }

    /// The state of particle `p` at save index `k`.
    pub fn state(&self, k: usize, p: usize) -> &[f32] {
        let at = (k * self.particles + p) * self.dim;
        &self.states[at..at + self.dim]
    }
}
