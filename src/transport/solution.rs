//! The result of a Sinkhorn solve.

use crate::transport::config::Convention;

/// Potentials, costs and convergence record of one solved problem.
#[derive(Clone, Debug)]
pub struct Solution {
    /// Source potential f (n values).
    pub f: Vec<f32>,
    /// Target potential g (m values).
    pub g: Vec<f32>,
    /// Regularised OT cost: the dual objective at (f, g), the value GeomLoss and OTT report.
    /// KL convention: Σ a φ_a(f) + Σ b φ_b(g) − ε (m(P) − m(a) m(b)), with
    /// φ(x) = −ρ (e^{−x/ρ} − 1) (= x for a hard marginal).
    pub reg_ot_cost: f64,
    /// The primal objective of the plan: ⟨C, P⟩ + ε KL(P | a⊗b) (or −ε H(P)) + the
    /// marginal penalties. Equals `reg_ot_cost` at convergence.
    pub primal_objective: f64,
    /// ⟨C, P⟩ (what POT's `sinkhorn2` returns).
    pub primal_cost: f64,
    /// Total mass of the plan, Σ P.
    pub transported_mass: f64,
    /// P 1, the plan's source marginal.
    pub row_marginal: Vec<f64>,
    /// Pᵀ 1, the plan's target marginal.
    pub col_marginal: Vec<f64>,
    /// (iteration, marginal error) at every check.
    pub errors: Vec<(usize, f64)>,
    /// Marginal error of the returned potentials: ‖P1 − a e^{−f/ρ_a}‖₁ + ‖Pᵀ1 − b e^{−g/ρ_b}‖₁.
    pub marginal_error: f64,
    /// Iterations run (each updates f, then g).
    pub iterations: usize,
    /// Whether the error fell to the threshold (never true with a non-finite error).
    pub converged: bool,
    /// The target ε used.
    pub epsilon: f64,
    /// τ of the source marginal at the target ε (1: hard).
    pub tau_a: f64,
    /// τ of the target marginal at the target ε (1: hard).
    pub tau_b: f64,
    /// Convention the potentials follow.
    pub convention: Convention,
    /// Whether the iterations read their costs from an n × m matrix (given as the
    /// problem, or stored per [`crate::transport::CostStorage`]) instead of recomputing
    /// them from the points. The CPU reference always recomputes (false).
    pub cost_matrix: bool,
}
