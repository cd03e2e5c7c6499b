//! What the GPU solver and the CPU reference share: the resolved scalars of a problem
//! (ε, ρ, weights after the balanced-mass correction), the iteration schedule (ε-scaling,
//! error checks), and the assembly of a [`Solution`] from potentials and marginals.

use crate::error::{Error, Result};
use crate::transport::config::{Convention, Epsilon, SinkhornConfig};
use crate::transport::problem::Problem;
use crate::transport::solution::Solution;

/// Statistics of the cost over all pairs (unweighted, as OTT's relative ε).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostStats {
    /// Mean cost.
    pub mean: f64,
    /// Standard deviation of the cost.
    pub std: f64,
    /// Largest cost.
    pub max: f64,
}

impl CostStats {
    pub(crate) fn from_sums(sum: f64, sum_sq: f64, max: f64, count: f64) -> Self {
        let mean = sum / count;
        let var = (sum_sq / count - mean * mean).max(0.0);
        Self {
            mean,
            std: var.sqrt(),
            max,
        }
    }
}

/// The scalars of one problem, fixed for the whole solve.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    /// Target ε.
    pub eps: f64,
    /// ε of the first iteration (the largest cost when ε-scaling, else `eps`).
    pub eps_start: f64,
    /// ε-scaling factor per iteration (1 without scaling).
    pub decay: f64,
    pub inv_rho_a: f64,
    pub inv_rho_b: f64,
    /// Weights after the balanced-mass correction.
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

impl Resolved {
    pub(crate) fn new(
        problem: &Problem,
        config: &SinkhornConfig,
        stats: CostStats,
    ) -> Result<Self> {
        let eps = match config.epsilon {
            Epsilon::Absolute(e) => f64::from(e),
            Epsilon::RelativeMean(k) => f64::from(k) * stats.mean,
            Epsilon::RelativeStd(k) => f64::from(k) * stats.std,
        };
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(Error::invalid(format!(
                "the relative epsilon resolves to {eps} (cost mean {}, std {}): all costs are \
                 equal, so give an absolute epsilon",
                stats.mean, stats.std
            )));
        }
        let (a, b) = balance_masses(problem, config)?;
        let (eps_start, decay) = match config.eps_decay {
            Some(decay) if stats.max > eps => (stats.max, f64::from(decay)),
            _ => (eps, 1.0),
        };
        Ok(Self {
            eps,
            eps_start,
            decay,
            inv_rho_a: config.marginal_a.inv_rho(eps),
            inv_rho_b: config.marginal_b.inv_rho(eps),
            a,
            b,
        })
    }

    /// decay^t, the ε-scaling factor of iteration `t` (1 without scaling).
    pub(crate) fn decay_pow(&self, t: usize) -> f64 {
        if self.decay >= 1.0 {
            return 1.0;
        }
        self.decay.powi(t.min(i32::MAX as usize) as i32)
    }

    /// ε-scaling start as a multiple of the target ε.
    pub(crate) fn start_ratio(&self) -> f64 {
        self.eps_start / self.eps
    }

    /// ε at iteration `t` (0-based) as a multiple of the target ε.
    pub(crate) fn eps_mult(&self, t: usize) -> f64 {
        (self.start_ratio() * self.decay_pow(t)).max(1.0)
    }
}

/// Checks the masses of a balanced problem and rescales the target to the source mass
/// when they agree to the tolerance (float32 weights never sum exactly to 1).
fn balance_masses(problem: &Problem, config: &SinkhornConfig) -> Result<(Vec<f32>, Vec<f32>)> {
    let a = problem.a.clone();
    let mut b = problem.b.clone();
    if !config.is_balanced() {
        return Ok((a, b));
    }
    let ma: f64 = a.iter().map(|&v| f64::from(v)).sum();
    let mb: f64 = b.iter().map(|&v| f64::from(v)).sum();
    let mismatch = (ma - mb).abs() / ma.max(mb);
    if mismatch > f64::from(config.mass_tolerance) {
        return Err(Error::invalid(format!(
            "a balanced problem needs equal total masses, but the source weighs {ma} and the \
             target {mb} (relative mismatch {mismatch:.2e}). Normalise both weight vectors to \
             the same total, or relax the marginals with tau < 1 (unbalanced transport)"
        )));
    }
    let ratio = ma / mb;
    for v in &mut b {
        *v = (f64::from(*v) * ratio) as f32;
    }
    Ok((a, b))
}

/// Iteration schedule shared by both solvers: which iterations end with an error check.
pub(crate) struct Schedule {
    pub max_iter: usize,
    pub check_every: usize,
}

impl Schedule {
    pub(crate) fn new(config: &SinkhornConfig) -> Self {
        Self {
            max_iter: config.max_iter,
            check_every: config.check_every,
        }
    }

    /// Whether the error is measured after iteration `t` (0-based): every `check_every`
    /// iterations once ε has reached its target, and after the last iteration.
    pub(crate) fn check_after(&self, t: usize, resolved: &[Resolved]) -> bool {
        let at_target = resolved.iter().all(|r| r.eps_mult(t) <= 1.0);
        at_target && ((t + 1).is_multiple_of(self.check_every) || t + 1 == self.max_iter)
    }
}

/// The over-relaxation ω of each iteration: fixed, or adapted once from the error
/// checks (Lehmann, von Renesse, Sambale & Uschmajew 2021, eq. 5).
pub(crate) struct Momentum {
    omega: f64,
    adaptive: bool,
    check_every: usize,
    at_target: Vec<f64>,
}

/// ω stays below this: over-relaxation diverges at 2.
const OMEGA_MAX: f64 = 1.9;

impl Momentum {
    pub(crate) fn new(config: &SinkhornConfig) -> Self {
        Self {
            omega: f64::from(config.momentum),
            adaptive: config.adaptive_momentum,
            check_every: config.check_every,
            at_target: Vec::new(),
        }
    }

    /// ω for the next iterations.
    pub(crate) fn omega(&self) -> f64 {
        self.omega
    }

    /// Records the (largest) error of a check made at the target ε.
    pub(crate) fn observe(&mut self, error: f64) {
        if !self.adaptive || !error.is_finite() {
            return;
        }
        self.at_target.push(error);
        if let [first, second] = self.at_target[..] {
            if first > 0.0 && second > 0.0 {
                let ratio = (second / first).min(0.99);
                let theta = ratio.powf(1.0 / self.check_every as f64);
                self.omega = (2.0 / (1.0 + (1.0 - theta).sqrt())).clamp(1.0, OMEGA_MAX);
            }
        }
    }
}

/// −ρ (exp(−x/ρ) − 1), which tends to x as ρ → ∞.
fn phi(x: f64, inv_rho: f64) -> f64 {
    if inv_rho == 0.0 {
        x
    } else {
        -(-x * inv_rho).exp_m1() / inv_rho
    }
}

/// Generalised KL divergence Σ p log(p/q) − p + q.
fn kl(p: &[f64], q: &[f32]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(&p, &q)| {
            let q = f64::from(q);
            if p <= 0.0 {
                q
            } else if q <= 0.0 {
                f64::INFINITY
            } else {
                p * (p / q).ln() - p + q
            }
        })
        .sum()
}

/// Per-side results of the final statistics pass.
pub(crate) struct SideStats {
    /// Potential.
    pub potential: Vec<f32>,
    /// Marginal of the plan on this side.
    pub marginal: Vec<f64>,
    /// Σ over the other side of C P, per point.
    pub primal: Vec<f64>,
}

/// Builds the solution from the final potentials and marginals.
#[expect(
    clippy::too_many_arguments,
    reason = "plain data assembled in one place"
)]
pub(crate) fn assemble(
    resolved: &Resolved,
    convention: Convention,
    rows: SideStats,
    cols: SideStats,
    errors: Vec<(usize, f64)>,
    iterations: usize,
    converged: bool,
    final_error: f64,
) -> Solution {
    let eps = resolved.eps;
    let mass_p: f64 = rows.marginal.iter().sum();
    let mass_a: f64 = resolved.a.iter().map(|&v| f64::from(v)).sum();
    let mass_b: f64 = resolved.b.iter().map(|&v| f64::from(v)).sum();
    let primal_cost: f64 = rows.primal.iter().sum();
    let dot = |w: &[f32], p: &[f32], inv_rho: f64| -> f64 {
        w.iter()
            .zip(p)
            .filter(|(&w, _)| w > 0.0)
            .map(|(&w, &p)| f64::from(w) * phi(f64::from(p), inv_rho))
            .sum()
    };
    let mut dual = dot(&resolved.a, &rows.potential, resolved.inv_rho_a)
        + dot(&resolved.b, &cols.potential, resolved.inv_rho_b);
    // Σ_ij P_ij (f_i + g_j − C_ij) / ε, from the marginals.
    let weighted = |m: &[f64], p: &[f32]| -> f64 {
        m.iter()
            .zip(p)
            .filter(|(&m, _)| m > 0.0)
            .map(|(&m, &p)| m * f64::from(p))
            .sum::<f64>()
    };
    let plan_log = (weighted(&rows.marginal, &rows.potential)
        + weighted(&cols.marginal, &cols.potential)
        - primal_cost)
        / eps;
    let entropic = match convention {
        Convention::KlProduct => {
            dual -= eps * (mass_p - mass_a * mass_b);
            eps * (plan_log - mass_p + mass_a * mass_b)
        }
        Convention::Entropy => {
            dual -= eps * mass_p;
            eps * (plan_log - mass_p)
        }
    };
    let relax = |inv_rho: f64, m: &[f64], w: &[f32]| {
        if inv_rho == 0.0 {
            0.0
        } else {
            kl(m, w) / inv_rho
        }
    };
    let objective = primal_cost
        + entropic
        + relax(resolved.inv_rho_a, &rows.marginal, &resolved.a)
        + relax(resolved.inv_rho_b, &cols.marginal, &resolved.b);
    Solution {
        f: rows.potential,
        g: cols.potential,
        reg_ot_cost: dual,
        primal_objective: objective,
        primal_cost,
        transported_mass: mass_p,
        row_marginal: rows.marginal,
        col_marginal: cols.marginal,
        errors,
        marginal_error: final_error,
        iterations,
        converged,
        epsilon: eps,
        tau_a: 1.0 / (1.0 + eps * resolved.inv_rho_a),
        tau_b: 1.0 / (1.0 + eps * resolved.inv_rho_b),
        convention,
        cost_matrix: false,
    }
}
