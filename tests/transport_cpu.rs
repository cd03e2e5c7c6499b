//! The GPU Sinkhorn solver against the CPU f64 reference on random problems.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::transport::{self, Convention, Cost, PointCloud, Problem, SinkhornConfig, Solution};

fn cloud(rng: &mut TestRng, n: usize, d: usize, shift: f64) -> Vec<f32> {
    (0..n * d)
        .map(|_| (rng.normal() * 0.5 + shift) as f32)
        .collect()
}

/// Random weights, some exactly zero, normalised to `mass`.
fn weights(rng: &mut TestRng, n: usize, zeros: bool, mass: f64) -> Vec<f32> {
    let raw: Vec<f64> = (0..n)
        .map(|i| {
            if zeros && i % 5 == 1 {
                0.0
            } else {
                0.2 + rng.uniform()
            }
        })
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| (w / total * mass) as f32).collect()
}

fn problem(
    rng: &mut TestRng,
    n: usize,
    m: usize,
    d: usize,
    cost: Cost,
    weighted: bool,
    masses: (f64, f64),
) -> Problem {
    let mut x = PointCloud::new(cloud(rng, n, d, 0.0), d).unwrap();
    let mut y = PointCloud::new(cloud(rng, m, d, 0.3), d).unwrap();
    if weighted || masses != (1.0, 1.0) {
        x = x.with_weights(weights(rng, n, weighted, masses.0)).unwrap();
        y = y.with_weights(weights(rng, m, weighted, masses.1)).unwrap();
    }
    Problem::with_cost(x, y, cost).unwrap()
}

/// Potentials agree up to f32 rounding relative to their scale; costs likewise.
fn compare(label: &str, gpu: &Solution, cpu: &Solution) {
    let scale = cpu
        .f
        .iter()
        .chain(&cpu.g)
        .fold(1e-3f64, |a, &v| a.max(f64::from(v).abs()))
        .max(cpu.epsilon);
    let worst = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| {
                if x == y {
                    0.0
                } else {
                    (f64::from(x) - f64::from(y)).abs()
                }
            })
            .fold(0.0, f64::max)
    };
    let (df, dg) = (worst(&gpu.f, &cpu.f), worst(&gpu.g, &cpu.g));
    eprintln!(
        "{label}: iterations gpu {} cpu {}, |df| {df:.2e} |dg| {dg:.2e} (scale {scale:.2e}), OT gpu {} cpu {}",
        gpu.iterations, cpu.iterations, gpu.reg_ot_cost, cpu.reg_ot_cost
    );
    assert_eq!(
        gpu.iterations, cpu.iterations,
        "{label}: same schedule, same stopping iteration"
    );
    assert_eq!(gpu.converged, cpu.converged, "{label}");
    assert!(
        df <= 2e-4 * scale && dg <= 2e-4 * scale,
        "{label}: potentials differ by {df:.3e}, {dg:.3e}"
    );
    for (what, a, b) in [
        ("reg_ot_cost", gpu.reg_ot_cost, cpu.reg_ot_cost),
        ("primal_cost", gpu.primal_cost, cpu.primal_cost),
        (
            "primal_objective",
            gpu.primal_objective,
            cpu.primal_objective,
        ),
        (
            "transported_mass",
            gpu.transported_mass,
            cpu.transported_mass,
        ),
    ] {
        assert!(
            (a - b).abs() <= 1e-3 * b.abs().max(scale * 0.1),
            "{label}: {what} gpu {a} cpu {b}"
        );
    }
    for (r, s) in gpu
        .row_marginal
        .iter()
        .zip(&cpu.row_marginal)
        .chain(gpu.col_marginal.iter().zip(&cpu.col_marginal))
    {
        assert!(
            (r - s).abs() <= 1e-3 * s.abs() + 1e-6,
            "{label}: marginal {r} vs {s}"
        );
    }
}

fn run(label: &str, problem: &Problem, config: &SinkhornConfig) {
    let gpu = transport::solve(ctx(), problem, config).unwrap();
    let cpu = transport::solve_cpu(problem, config).unwrap();
    compare(label, &gpu, &cpu);
}

#[test]
fn balanced_problems_of_several_dimensions_match_the_reference() {
    let mut rng = TestRng::new(seed("balanced"));
    for (n, m, d) in [(37, 53, 1), (64, 29, 2), (130, 71, 3), (45, 90, 17)] {
        for weighted in [false, true] {
            let p = problem(&mut rng, n, m, d, Cost::SqEuclidean, weighted, (1.0, 1.0));
            let config = SinkhornConfig::default()
                .eps(0.1)
                .threshold(1e-4)
                .max_iter(300);
            run(
                &format!("balanced n={n} m={m} d={d} weighted={weighted}"),
                &p,
                &config,
            );
        }
    }
}
