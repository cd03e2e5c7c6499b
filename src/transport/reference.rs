//! The CPU f64 reference: the same equations and schedule as the GPU solver in plain
//! loops. Tests compare the two; it is also usable on its own for small problems.

use crate::error::Result;
use crate::transport::anderson::{AndersonHistory, AndersonSchedule};
use crate::transport::config::{Convention, SinkhornConfig};
use crate::transport::problem::Problem;
use crate::transport::schedule::{assemble, CostStats, Momentum, Resolved, Schedule, SideStats};
use crate::transport::solution::Solution;

/// Mean, standard deviation and maximum of the cost over all pairs.
pub fn cost_stats_cpu(problem: &Problem) -> CostStats {
    let (mut sum, mut sum_sq, mut max) = (0.0, 0.0, 0.0f64);
    for i in 0..problem.n() {
        for j in 0..problem.m() {
            let c = problem.cost(i, j);
            sum += c;
            sum_sq += c * c;
            max = max.max(c);
        }
    }
    CostStats::from_sums(sum, sum_sq, max, (problem.n() * problem.m()) as f64)
}

fn ln(w: &[f32]) -> Vec<f64> {
    w.iter().map(|&v| f64::from(v).ln()).collect()
}

fn lse(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// One side of the problem as the update sees it: rows are updated against columns.
struct Side<'a> {
    cost: &'a dyn Fn(usize, usize) -> f64,
    row_log_w: &'a [f64],
    col_log_w: &'a [f64],
    inv_rho: f64,
}

struct Params {
    eps: f64,
    omega: f64,
    entropy: bool,
}

impl Side<'_> {
    /// The column term of row i's log-sum-exp, for column j.
    fn arg(&self, p: &Params, i: usize, j: usize, col_pot: &[f64]) -> f64 {
        let w = if p.entropy { 0.0 } else { self.col_log_w[j] };
        w + (col_pot[j] - (self.cost)(i, j)) / p.eps
    }

    fn row_lse(&self, p: &Params, i: usize, col_pot: &[f64]) -> f64 {
        lse((0..col_pot.len()).map(|j| self.arg(p, i, j, col_pot)))
    }

    fn update(&self, p: &Params, row_pot: &mut [f64], col_pot: &[f64]) {
        let tau = 1.0 / (1.0 + p.eps * self.inv_rho);
        for (i, f) in row_pot.iter_mut().enumerate() {
            let mut f_hat = -tau * p.eps * self.row_lse(p, i, col_pot);
            if p.entropy {
                f_hat += tau * p.eps * self.row_log_w[i];
            }
            *f = if p.omega == 1.0 || !f_hat.is_finite() {
                f_hat
            } else {
                (1.0 - p.omega) * *f + p.omega * f_hat
            };
        }
    }

    /// Marginal, optimality gap and Σ_j C P per row.
    fn stats(
        &self,
        p: &Params,
        row_pot: &[f64],
        col_pot: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = row_pot.len();
        let (mut marginal, mut gap, mut primal) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for i in 0..n {
            let lse_i = self.row_lse(p, i, col_pot);
            let log_w = if p.entropy { 0.0 } else { self.row_log_w[i] };
            let log_r = log_w + row_pot[i] / p.eps + lse_i;
            marginal[i] = log_r.exp();
            let wanted = if self.row_log_w[i].is_finite() {
                (self.row_log_w[i] - row_pot[i] * self.inv_rho).exp()
            } else {
                0.0
            };
            gap[i] = (marginal[i] - wanted).abs();
            primal[i] = (0..col_pot.len())
                .map(|j| (self.cost)(i, j) * (self.arg(p, i, j, col_pot) - lse_i + log_r).exp())
                .sum();
        }
        (marginal, gap, primal)
    }
}

/// Solves `problem` on the CPU in f64 with the GPU solver's equations and schedule.
pub fn solve_cpu(problem: &Problem, config: &SinkhornConfig) -> Result<Solution> {
    config.validate()?;
    let resolved = Resolved::new(problem, config, cost_stats_cpu(problem))?;
    let schedule = Schedule::new(config);
    let (la, lb) = (ln(&resolved.a), ln(&resolved.b));
    let source_cost = |i: usize, j: usize| problem.cost(i, j);
    let target_cost = |j: usize, i: usize| problem.cost(i, j);
    let rows = Side {
        cost: &source_cost,
        row_log_w: &la,
        col_log_w: &lb,
        inv_rho: resolved.inv_rho_a,
    };
    let cols = Side {
        cost: &target_cost,
        row_log_w: &lb,
        col_log_w: &la,
        inv_rho: resolved.inv_rho_b,
    };
    let entropy = config.convention == Convention::Entropy;
    let mut momentum = Momentum::new(config);
    let (mut f, mut g) = (vec![0.0; problem.n()], vec![0.0; problem.m()]);
    let (mut errors, mut converged, mut iterations) = (Vec::new(), false, 0);
    let mut anderson = config.anderson.map(|a| {
        let schedule = AndersonSchedule::new(a, std::slice::from_ref(&resolved), config.max_iter);
        AndersonHistory::new(schedule, problem.m())
    });
    for t in 0..config.max_iter {
        let omega = momentum.omega();
        let p = Params {
            eps: resolved.eps * resolved.eps_mult(t),
            omega,
            entropy,
        };
        if let Some(history) = &mut anderson {
            history.before(t, &mut g);
        }
        rows.update(&p, &mut f, &g);
        cols.update(&p, &mut g, &f);
        if let Some(history) = &mut anderson {
            history.after(t, &g);
        }
        iterations = t + 1;
        if schedule.check_after(t, std::slice::from_ref(&resolved)) {
            let mut err: f64 = rows.stats(&p, &f, &g).1.iter().sum();
            // After a plain g-update the column condition holds exactly; with
            // over-relaxation it must be measured too.
            if omega != 1.0 {
                err += cols.stats(&p, &g, &f).1.iter().sum::<f64>();
            }
            errors.push((iterations, err));
            momentum.observe(err);
            if !err.is_finite() {
                break;
            }
            if err <= f64::from(config.threshold) {
                converged = true;
                break;
            }
        }
    }
    let p = Params {
        eps: resolved.eps,
        omega: 1.0,
        entropy,
    };
    let (r, row_gap, row_primal) = rows.stats(&p, &f, &g);
    let (c, col_gap, col_primal) = cols.stats(&p, &g, &f);
    let final_error = row_gap.iter().sum::<f64>() + col_gap.iter().sum::<f64>();
    let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    Ok(assemble(
        &resolved,
        config.convention,
        SideStats {
            potential: to32(&f),
            marginal: r,
            primal: row_primal,
        },
        SideStats {
            potential: to32(&g),
            marginal: c,
            primal: col_primal,
        },
        errors,
        iterations,
        converged && final_error.is_finite(),
        final_error,
    ))
}

/// log of the plan entry P_ij of a solution, in the solution's convention.
fn log_plan(problem: &Problem, solution: &Solution, i: usize, j: usize) -> f64 {
    let eps = solution.epsilon;
    let mut log_p =
        (f64::from(solution.f[i]) + f64::from(solution.g[j]) - problem.cost(i, j)) / eps;
    if solution.convention == Convention::KlProduct {
        log_p += f64::from(problem.a()[i]).ln() + f64::from(problem.b()[j]).ln();
    }
    log_p
}

/// The dense plan of a solution, row-major (CPU twin of [`crate::transport::Coupling::plan`]).
pub fn plan_cpu(problem: &Problem, solution: &Solution) -> Vec<f64> {
    (0..problem.n())
        .flat_map(|i| (0..problem.m()).map(move |j| (i, j)))
        .map(|(i, j)| log_plan(problem, solution, i, j).exp())
        .collect()
}

/// The gradients of OT_ε with respect to both clouds, Σ_j P_ij ∂c(x_i, y_j)/∂x_i and
/// Σ_i P_ij ∂c(x_i, y_j)/∂y_j, for the squared Euclidean cost (CPU twin of
/// [`crate::transport::Coupling::gradients`]); `None` for other costs or a matrix.
pub fn gradients_cpu(problem: &Problem, solution: &Solution) -> Option<(Vec<f64>, Vec<f64>)> {
    let (source, target) = problem.clouds()?;
    if problem.cost_kind()? != crate::transport::Cost::SqEuclidean {
        return None;
    }
    let (n, m, d) = (problem.n(), problem.m(), source.dim());
    let plan = plan_cpu(problem, solution);
    let (mut gx, mut gy) = (vec![0.0; n * d], vec![0.0; m * d]);
    for i in 0..n {
        for j in 0..m {
            let p = plan[i * m + j];
            for k in 0..d {
                let diff = 2.0 * (f64::from(source.point(i)[k]) - f64::from(target.point(j)[k]));
                gx[i * d + k] += p * diff;
                gy[j * d + k] -= p * diff;
            }
        }
    }
    Some((gx, gy))
}

/// The entropic map of `points` (CPU twin of [`crate::transport::Coupling::map`]): the
/// barycentric projection for the squared Euclidean cost, x − prox_γ(∇f(x)) for the
/// elastic cost.
pub fn map_cpu(problem: &Problem, solution: &Solution, points: &[f32]) -> Vec<f64> {
    let crate::transport::problem::Geometry::Points { target, cost, .. } = &problem.geometry else {
        return Vec::new();
    };
    let d = target.dim();
    let gamma = f64::from(cost.gamma());
    let elastic = matches!(cost, crate::transport::Cost::Elastic { .. });
    let mut out = Vec::with_capacity(points.len());
    for x in points.chunks(d) {
        let args: Vec<f64> = (0..target.len())
            .map(|j| {
                let w = if solution.convention == Convention::KlProduct {
                    f64::from(problem.b()[j]).ln()
                } else {
                    0.0
                };
                w + (f64::from(solution.g[j]) - cost.eval(x, target.point(j))) / solution.epsilon
            })
            .collect();
        let total = lse(args.iter().copied());
        for (k, &xk) in x.iter().enumerate() {
            let xk = f64::from(xk);
            let (mut y_bar, mut sign) = (0.0, 0.0);
            for (j, &a) in args.iter().enumerate() {
                let w = (a - total).exp();
                let y = f64::from(target.point(j)[k]);
                y_bar += w * y;
                // WGSL's sign(0) is 0.
                if xk != y {
                    sign += w * (xk - y).signum();
                }
            }
            if elastic {
                let grad = xk - y_bar + gamma * sign;
                out.push(xk - grad.signum() * (grad.abs() - gamma).max(0.0));
            } else {
                out.push(y_bar);
            }
        }
    }
    out
}
