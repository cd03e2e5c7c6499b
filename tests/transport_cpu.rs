//! The GPU Sinkhorn solver against the CPU f64 reference on random problems.

mod common;

use common::{ctx, seed, TestRng};
use std::sync::OnceLock;

use morphogen::gpu::{ContextOptions, GpuContext};
use morphogen::transport::{
    self, Anderson, Convention, Cost, CostStorage, PointCloud, Problem, SinkhornConfig, Solution,
};

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
        .filter(|v| v.is_finite())
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
    assert_eq!(gpu.iterations, cpu.iterations, "{label}: same schedule");
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

/// A context without subgroup operations, so the workgroup-tile path of the kernels runs
/// too where the adapter has subgroups.
fn portable_ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::with_options(
            &ContextOptions::default().without_features(wgpu::Features::SUBGROUP),
        )
        .unwrap()
    })
}

fn run(label: &str, problem: &Problem, config: &SinkhornConfig) {
    let cpu = transport::solve_cpu(problem, config).unwrap();
    let gpu = transport::solve(ctx(), problem, config).unwrap();
    compare(label, &gpu, &cpu);
    if ctx().subgroups().is_some() {
        let portable = transport::solve(portable_ctx(), problem, config).unwrap();
        compare(&format!("{label} (workgroup tiles)"), &portable, &cpu);
    }
}

/// A fixed number of iterations (threshold 0 never stops early), so both solvers run the
/// same schedule whatever rounding does to the error near a threshold.
fn fixed(iterations: usize) -> SinkhornConfig {
    SinkhornConfig::default()
        .threshold(0.0)
        .max_iter(iterations)
}

#[test]
fn balanced_problems_of_several_dimensions_match_the_reference() {
    let mut rng = TestRng::new(seed("balanced"));
    // Sizes straddle the 256-row workgroup block and the 64-column tile; d = 70 keeps the
    // source coordinates in memory instead of registers.
    for (n, m, d) in [
        (37, 53, 1),
        (300, 29, 2),
        (130, 257, 3),
        (45, 90, 17),
        (20, 33, 70),
    ] {
        for weighted in [false, true] {
            let p = problem(&mut rng, n, m, d, Cost::SqEuclidean, weighted, (1.0, 1.0));
            let config = fixed(40).eps(0.1 * d as f32);
            run(
                &format!("balanced n={n} m={m} d={d} weighted={weighted}"),
                &p,
                &config,
            );
        }
    }
}

#[test]
fn unbalanced_and_semi_relaxed_problems_in_both_conventions_match() {
    let mut rng = TestRng::new(seed("unbalanced"));
    for convention in [Convention::KlProduct, Convention::Entropy] {
        for (label, config) in [
            ("unbalanced tau 0.9", fixed(40).eps(0.2).tau(0.9)),
            ("semi-relaxed", fixed(40).eps(0.2).tau_b(0.7)),
            ("unbalanced rho", fixed(40).eps(0.2).rho_a(0.5).rho_b(2.0)),
        ] {
            let p = problem(&mut rng, 70, 45, 2, Cost::SqEuclidean, true, (1.3, 0.6));
            run(
                &format!("{label} {convention:?}"),
                &p,
                &config.convention(convention),
            );
        }
        let p = problem(&mut rng, 50, 66, 3, Cost::SqEuclidean, true, (1.0, 1.0));
        run(
            &format!("balanced {convention:?}"),
            &p,
            &fixed(30).eps(0.2).convention(convention),
        );
    }
}

#[test]
fn every_cost_matches_the_reference() {
    let mut rng = TestRng::new(seed("costs"));
    for cost in [Cost::Euclidean, Cost::L1, Cost::Elastic { gamma: 0.3 }] {
        let p = problem(&mut rng, 80, 41, 3, cost, false, (1.0, 1.0));
        run(&format!("{cost:?}"), &p, &fixed(30).eps(0.1));
    }
    let (n, m) = (23, 67);
    let matrix: Vec<f32> = (0..n * m).map(|_| rng.uniform() as f32 * 2.0).collect();
    let p = Problem::from_cost_matrix(matrix, n, m).unwrap();
    run("dense matrix", &p, &fixed(30).eps(0.05));
    let (a, b) = (
        weights(&mut rng, n, true, 1.0),
        weights(&mut rng, m, true, 1.0),
    );
    let p = p.with_weights(a, b).unwrap();
    run("dense matrix, weighted", &p, &fixed(30).eps(0.05).tau(0.8));
}

#[test]
fn stored_cost_matrices_give_the_solutions_of_recomputed_costs() {
    let mut rng = TestRng::new(seed("stored costs"));
    // Sizes straddle the matrix kernel's 256-row, 32-column blocks.
    let cases = [
        (300, 45, 20, Cost::SqEuclidean, Convention::KlProduct),
        (61, 290, 16, Cost::Euclidean, Convention::Entropy),
        (97, 33, 5, Cost::L1, Convention::KlProduct),
        (
            40,
            70,
            64,
            Cost::Elastic { gamma: 0.3 },
            Convention::Entropy,
        ),
    ];
    for (n, m, d, cost, convention) in cases {
        let p = problem(&mut rng, n, m, d, cost, true, (1.0, 1.0));
        let config = fixed(30).eps_rel(0.05).convention(convention);
        let cpu = transport::solve_cpu(&p, &config).unwrap();
        let label = format!("{cost:?} n={n} m={m} d={d} {convention:?}");
        let matrix = transport::cost_matrix(ctx(), &p).unwrap();
        assert_eq!(matrix.len(), n * m);
        for (k, &c) in matrix.iter().enumerate() {
            let want = p.cost(k / m, k % m);
            assert!(
                (f64::from(c) - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{label}: cost ({}, {}) GPU {c} CPU {want}",
                k / m,
                k % m
            );
        }
        let online =
            transport::solve(ctx(), &p, &config.clone().cost_storage(CostStorage::Online)).unwrap();
        let stored =
            transport::solve(ctx(), &p, &config.clone().cost_storage(CostStorage::Matrix)).unwrap();
        assert!(
            !online.cost_matrix && stored.cost_matrix,
            "{label}: storage as asked"
        );
        compare(&format!("{label}, online"), &online, &cpu);
        compare(&format!("{label}, stored"), &stored, &cpu);
    }
    // Unbalanced, batched: the matrix holds every problem of the batch.
    let problems: Vec<Problem> = (0..2)
        .map(|_| problem(&mut rng, 130, 77, 24, Cost::SqEuclidean, true, (1.2, 0.8)))
        .collect();
    let config = fixed(25).eps_rel(0.05).tau(0.9);
    let batch = transport::solve_batch(ctx(), &problems, &config).unwrap();
    for (k, (p, solution)) in problems.iter().zip(&batch).enumerate() {
        assert!(solution.cost_matrix, "d = 24 stores its matrix by default");
        compare(
            &format!("stored, batch member {k}"),
            solution,
            &transport::solve_cpu(p, &config).unwrap(),
        );
    }
    // Automatic storage stays online in low dimension and beyond its budget.
    let p = problem(&mut rng, 50, 40, 24, Cost::SqEuclidean, false, (1.0, 1.0));
    let tight = CostStorage::Auto {
        min_dim: 16,
        budget_bytes: 4 * 50 * 40 - 1,
    };
    let online = transport::solve(ctx(), &p, &fixed(5).cost_storage(tight)).unwrap();
    assert!(!online.cost_matrix, "over the budget");
    let p = problem(&mut rng, 50, 40, 3, Cost::SqEuclidean, false, (1.0, 1.0));
    assert!(
        !transport::solve(ctx(), &p, &fixed(5)).unwrap().cost_matrix,
        "d = 3"
    );
}

#[test]
fn a_stored_matrix_is_refused_where_it_cannot_be_built() {
    let mut rng = TestRng::new(seed("stored costs refused"));
    let p = problem(&mut rng, 20, 30, 70, Cost::SqEuclidean, false, (1.0, 1.0));
    let err = transport::solve(ctx(), &p, &fixed(5).cost_storage(CostStorage::Matrix))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("64 dimensions") && err.contains("Online"),
        "{err}"
    );
    let auto = transport::solve(ctx(), &p, &fixed(5)).unwrap();
    assert!(!auto.cost_matrix, "d = 70 stays online under Auto");
}

#[test]
fn momentum_and_eps_scaling_follow_the_same_schedule() {
    let mut rng = TestRng::new(seed("schedule"));
    let p = problem(&mut rng, 90, 60, 2, Cost::SqEuclidean, true, (1.0, 1.0));
    run("momentum 1.5", &p, &fixed(40).eps(0.05).momentum(1.5));
    run("eps scaling", &p, &fixed(60).eps_rel(0.01).eps_scaling(0.8));
    let mixed = fixed(60)
        .eps_rel(0.02)
        .eps_scaling(0.85)
        .tau(0.95)
        .momentum(1.3);
    run("eps scaling, unbalanced, momentum", &p, &mixed);
    run("relative std", &p, &fixed(30).eps_rel_std(0.1));
    run(
        "adaptive momentum",
        &p,
        &fixed(60).eps(0.02).check_every(5).adaptive_momentum(),
    );
}

#[test]
fn converged_solutions_meet_the_threshold() {
    let mut rng = TestRng::new(seed("converge"));
    let p = problem(&mut rng, 200, 150, 2, Cost::SqEuclidean, true, (1.0, 1.0));
    for config in [
        SinkhornConfig::default().threshold(1e-4),
        SinkhornConfig::default().threshold(1e-4).tau(0.9),
        SinkhornConfig::default().threshold(1e-4).momentum(1.4),
    ] {
        let s = transport::solve(ctx(), &p, &config).unwrap();
        assert!(s.converged, "{config:?}: {:?}", s.errors);
        let (at, last) = *s.errors.last().unwrap();
        assert_eq!(at, s.iterations);
        assert!(last <= 1e-4, "{last}");
        assert!(
            s.marginal_error <= 2e-4,
            "final two-sided error {}",
            s.marginal_error
        );
        assert!(s.iterations.is_multiple_of(10) && s.iterations < config.max_iter);
        // At convergence the dual and primal objectives agree.
        let gap = (s.reg_ot_cost - s.primal_objective).abs();
        assert!(
            gap <= 1e-3 * s.reg_ot_cost.abs().max(1e-3),
            "duality gap {gap}: {} vs {}",
            s.reg_ot_cost,
            s.primal_objective
        );
    }
}

#[test]
fn a_batch_equals_separate_solves() {
    let mut rng = TestRng::new(seed("batch"));
    let problems: Vec<Problem> = (0..3)
        .map(|_| problem(&mut rng, 77, 50, 2, Cost::SqEuclidean, true, (1.0, 1.0)))
        .collect();
    let config = fixed(25).eps_rel(0.05);
    let batch = transport::solve_batch(ctx(), &problems, &config).unwrap();
    for (k, (p, b)) in problems.iter().zip(&batch).enumerate() {
        let single = transport::solve(ctx(), p, &config).unwrap();
        assert_eq!(b.f, single.f, "problem {k}: f");
        assert_eq!(b.g, single.g, "problem {k}: g");
        compare(
            &format!("batch member {k}"),
            b,
            &transport::solve_cpu(p, &config).unwrap(),
        );
    }
}

/// A problem at small ε (slow to converge), the settings to solve it to 1e-3, and its
/// plain solve, which accelerations must beat.
fn slow_problem(name: &str) -> (Problem, SinkhornConfig, Solution) {
    let mut rng = TestRng::new(seed(name));
    let p = problem(&mut rng, 150, 120, 2, Cost::SqEuclidean, false, (1.0, 1.0));
    let base = SinkhornConfig::default()
        .eps_rel(0.005)
        .threshold(1e-3)
        .max_iter(5000);
    let plain = transport::solve(ctx(), &p, &base).unwrap();
    (p, base, plain)
}

/// `fast` converged in fewer than `fraction` of `plain`'s iterations, to the same cost.
fn assert_faster(label: &str, plain: &Solution, fast: &Solution, fraction: f64) {
    eprintln!(
        "plain: {} iterations, {label}: {}",
        plain.iterations, fast.iterations
    );
    assert!(
        plain.converged && fast.converged,
        "{label}: {:?}",
        fast.errors
    );
    assert!(
        (fast.iterations as f64) < fraction * plain.iterations as f64,
        "{label}: {} vs {}",
        fast.iterations,
        plain.iterations
    );
    let gap = (fast.reg_ot_cost - plain.reg_ot_cost).abs();
    assert!(
        gap < 1e-3 * plain.reg_ot_cost.abs(),
        "{label}: same problem, same answer: {gap}"
    );
}

#[test]
fn adaptive_momentum_converges_in_fewer_iterations() {
    let (p, base, plain) = slow_problem("adaptive");
    let fast = transport::solve(ctx(), &p, &base.adaptive_momentum()).unwrap();
    assert_faster("adaptive", &plain, &fast, 2.0 / 3.0);
}

#[test]
fn anderson_acceleration_follows_the_reference() {
    let mut rng = TestRng::new(seed("anderson"));
    let p = problem(&mut rng, 90, 60, 2, Cost::SqEuclidean, true, (1.0, 1.0));
    // Step for step through the first extrapolations. Further on, f32 and f64 part ways:
    // the weights solve a system whose conditioning amplifies rounding, so longer runs
    // are compared where they end, at the same fixed point.
    run(
        "anderson",
        &p,
        &fixed(9).eps(0.05).anderson(Anderson::default()),
    );
    run(
        "anderson, entropy convention",
        &p,
        &fixed(7)
            .eps(0.05)
            .convention(Convention::Entropy)
            .anderson(Anderson::with_memory(3)),
    );
    let converged = |label: &str, gpu: &Solution, cpu: &Solution, threshold: f64| {
        eprintln!(
            "{label}: iterations gpu {} cpu {}, OT gpu {} cpu {}",
            gpu.iterations, cpu.iterations, gpu.reg_ot_cost, cpu.reg_ot_cost
        );
        assert!(gpu.converged && cpu.converged, "{label}");
        assert!(
            gpu.marginal_error <= 2.0 * threshold,
            "{label}: {}",
            gpu.marginal_error
        );
        for (what, g, c) in [
            ("OT_eps", gpu.reg_ot_cost, cpu.reg_ot_cost),
            ("<C,P>", gpu.primal_cost, cpu.primal_cost),
        ] {
            assert!(
                (g - c).abs() <= 1e-4 * c.abs().max(1e-3),
                "{label}: {what} {g} vs {c}"
            );
        }
    };
    let wide = Anderson {
        memory: 5,
        refresh_every: 2,
        ridge: 1e-3,
    };
    for (label, config) in [
        (
            "anderson to 1e-5",
            SinkhornConfig::default()
                .eps(0.05)
                .anderson(Anderson::default()),
        ),
        (
            "anderson 5 every 2, unbalanced, eps scaling",
            SinkhornConfig::default()
                .eps_rel(0.02)
                .eps_scaling(0.85)
                .tau(0.95)
                .anderson(wide),
        ),
    ] {
        let config = config.threshold(1e-5).max_iter(3000);
        converged(
            label,
            &transport::solve(ctx(), &p, &config).unwrap(),
            &transport::solve_cpu(&p, &config).unwrap(),
            1e-5,
        );
    }
    // Each problem of a batch has its own weights.
    let problems: Vec<Problem> = (0..2)
        .map(|_| problem(&mut rng, 40, 70, 3, Cost::SqEuclidean, true, (1.0, 1.0)))
        .collect();
    let config = fixed(8).eps_rel(0.05).anderson(Anderson::with_memory(4));
    let batch = transport::solve_batch(ctx(), &problems, &config).unwrap();
    for (k, (p, b)) in problems.iter().zip(&batch).enumerate() {
        compare(
            &format!("anderson, batch member {k}"),
            b,
            &transport::solve_cpu(p, &config).unwrap(),
        );
    }
}

#[test]
fn anderson_acceleration_converges_in_fewer_iterations() {
    // Five problems, judged on the median ratio: Anderson in f32 now and then stalls on a
    // problem (about one in twenty-five needed over a third of the plain count, once more
    // than plain), which a median absorbs; typically it takes a fifth.
    let mut ratios = [Vec::new(), Vec::new()];
    for k in 0..5 {
        let (p, base, plain) = slow_problem(&format!("anderson speed {k}"));
        if k == 0 {
            // OTT's memory 2 and ridge 1e-2 are slower than plain iterations (OTT itself
            // takes 730 to plain 570 on such a problem); a smaller ridge makes it fast.
            let ott = base.clone().anderson(Anderson {
                memory: 2,
                refresh_every: 1,
                ridge: 1e-2,
            });
            let damped = transport::solve(ctx(), &p, &ott).unwrap();
            eprintln!(
                "anderson with OTT's defaults: {} iterations",
                damped.iterations
            );
            let err = transport::solve(
                ctx(),
                &p,
                &base.clone().momentum(1.3).anderson(Anderson::default()),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("replaces over-relaxation"), "{err}");
        }
        for (ratio, memory) in ratios.iter_mut().zip([2, 5]) {
            let config = base.clone().anderson(Anderson::with_memory(memory));
            let fast = transport::solve(ctx(), &p, &config).unwrap();
            // Same answer, converged, whatever the speed.
            assert_faster(
                &format!("anderson memory {memory}"),
                &plain,
                &fast,
                f64::INFINITY,
            );
            ratio.push(fast.iterations as f64 / plain.iterations as f64);
        }
    }
    for (ratio, memory) in ratios.iter_mut().zip([2, 5]) {
        ratio.sort_by(f64::total_cmp);
        assert!(
            ratio[2] < 0.4,
            "anderson memory {memory}: iterations / plain {ratio:?}"
        );
    }
}

/// A context whose bindings hold at most 16 KiB, so modest problems take the windowed
/// path that problems beyond a real binding take.
fn small_binding_ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::with_options(&ContextOptions::default().binding_cap(16 << 10)).unwrap()
    })
}

#[test]
fn problems_beyond_one_binding_are_split_into_windows() {
    let mut rng = TestRng::new(seed("windows"));
    // 450 x 17 floats of source points = 30 KiB: 3 row windows of 192; the target's
    // 300 x 17 = 20 KiB: 2 windows.
    let p = problem(&mut rng, 450, 300, 17, Cost::SqEuclidean, true, (1.0, 1.0));
    for (label, config) in [
        ("windows, balanced", fixed(20).eps(1.5)),
        (
            "windows, unbalanced, momentum, relative eps",
            fixed(20).eps_rel(0.1).tau(0.9).momentum(1.3),
        ),
        (
            "windows, entropy convention",
            fixed(20).eps(1.5).convention(Convention::Entropy),
        ),
    ] {
        let cpu = transport::solve_cpu(&p, &config).unwrap();
        let windowed = transport::solve(small_binding_ctx(), &p, &config).unwrap();
        assert!(
            !windowed.cost_matrix,
            "points beyond a binding: costs recomputed"
        );
        compare(label, &windowed, &cpu);
    }
    // A stored matrix of 200 x 150 costs (117 KiB, points in one binding each) written
    // and read in windows.
    let p = problem(&mut rng, 200, 150, 17, Cost::Euclidean, true, (1.0, 1.0));
    let config = fixed(20).eps_rel(0.05).tau(0.9);
    let windowed = transport::solve(small_binding_ctx(), &p, &config).unwrap();
    assert!(windowed.cost_matrix, "Auto stores the matrix in windows");
    compare(
        "windows, stored matrix",
        &windowed,
        &transport::solve_cpu(&p, &config).unwrap(),
    );
    let matrix = transport::cost_matrix(small_binding_ctx(), &p).unwrap();
    assert_eq!(matrix.len(), 200 * 150);
    for (k, &c) in matrix.iter().enumerate() {
        let want = p.cost(k / 150, k % 150);
        assert!(
            (f64::from(c) - want).abs() <= 1e-5 * (1.0 + want),
            "cost {k}"
        );
    }
    // A dense matrix of 200 x 100 floats (80 KiB) in windows of 64 rows.
    let matrix: Vec<f32> = (0..200 * 100).map(|_| rng.uniform() as f32).collect();
    let p = Problem::from_cost_matrix(matrix, 200, 100).unwrap();
    let config = fixed(20).eps(0.05);
    compare(
        "windows, dense",
        &transport::solve(small_binding_ctx(), &p, &config).unwrap(),
        &transport::solve_cpu(&p, &config).unwrap(),
    );
}

/// Maps, samples and plans of a solved problem agree with their CPU twins, evaluated at
/// the same potentials, and with the same coupling solved in one binding.
fn check_coupling_windows(
    label: &str,
    windowed: &transport::Coupling,
    whole: &transport::Coupling,
    p: &Problem,
    rng: &mut TestRng,
) {
    let solution = windowed.solution();
    let d = p.dim();
    if matches!(
        p.cost_kind(),
        Some(Cost::SqEuclidean | Cost::Elastic { .. })
    ) {
        let points = cloud(rng, 40, d, 0.1);
        let mut mapped = windowed.map(&points).unwrap();
        let mut want = transport::map_cpu(p, solution, &points);
        // The backward map walks the source's windows: the forward map of the swapped
        // problem, whose potentials are (g, f).
        if let (Some((source, target)), Some(cost)) = (p.clouds(), p.cost_kind()) {
            let swapped = Problem::with_cost(target.clone(), source.clone(), cost).unwrap();
            let mut reversed = solution.clone();
            std::mem::swap(&mut reversed.f, &mut reversed.g);
            mapped.extend(windowed.map_back(&points).unwrap());
            want.extend(transport::map_cpu(&swapped, &reversed, &points));
        }
        let scale = want.iter().fold(1e-3f64, |a, v| a.max(v.abs()));
        for (k, (&g, &c)) in mapped.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(g) - c).abs() <= 2e-4 * scale,
                "{label}: map coordinate {k}: {g} vs {c}"
            );
        }
    }
    if p.n() * p.m() <= 4096 {
        let plan = windowed.plan().unwrap();
        let want = transport::plan_cpu(p, solution);
        let scale = want.iter().fold(0.0f64, |a, &v| a.max(v));
        for (k, (&g, &c)) in plan.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(g) - c).abs() <= 1e-3 * scale,
                "{label}: plan entry {k}: {g} vs {c}"
            );
        }
    }
    let seed = rng.next_u64();
    let pairs = windowed.sample(2000, seed).unwrap();
    let reference = whole.sample(2000, seed).unwrap();
    assert!(pairs
        .iter()
        .all(|&(i, j)| (i as usize) < p.n() && (j as usize) < p.m()));
    // The two solves differ by f32 rounding, which can move a draw that falls on a
    // boundary between two columns; nothing else may differ.
    let same = pairs.iter().zip(&reference).filter(|(a, b)| a == b).count();
    assert!(
        same >= 1980,
        "{label}: {same} of 2000 sampled pairs agree with the one-binding solve"
    );
}

#[test]
fn couplings_of_problems_beyond_one_binding_are_walked_in_windows() {
    let mut rng = TestRng::new(seed("coupling windows"));
    let config = fixed(30).eps(1.0);
    // Source 450 x 17 in 3 windows, target 300 x 17 in 2: maps and samples carry sums
    // across target windows; samples are grouped by source window.
    // 300 x 8 with 17 dimensions: the points exceed a binding, the plan does not.
    // A cost matrix of 200 x 100 (80 KiB) in windows of rows.
    let matrix: Vec<f32> = (0..200 * 100).map(|_| rng.uniform() as f32).collect();
    let cases = [
        (
            "coupling windows, 450 x 300",
            problem(&mut rng, 450, 300, 17, Cost::SqEuclidean, false, (1.0, 1.0)),
        ),
        (
            "coupling windows, 300 x 8",
            problem(&mut rng, 300, 8, 17, Cost::SqEuclidean, true, (1.0, 1.0)),
        ),
        (
            "coupling windows, elastic",
            problem(
                &mut rng,
                300,
                8,
                17,
                Cost::Elastic { gamma: 0.3 },
                true,
                (1.0, 1.0),
            ),
        ),
        (
            "coupling windows, dense",
            Problem::from_cost_matrix(matrix, 200, 100).unwrap(),
        ),
    ];
    for (label, p) in &cases {
        let config = if label.ends_with("dense") {
            fixed(30).eps(0.05)
        } else {
            config.clone()
        };
        let windowed = transport::Coupling::solve(small_binding_ctx(), p, &config).unwrap();
        let whole = transport::Coupling::solve(ctx(), p, &config).unwrap();
        check_coupling_windows(label, &windowed, &whole, p, &mut rng);
    }
}

#[test]
fn a_driver_loop_budget_splits_columns_into_windows() {
    // Mesa's llvmpipe before 25 stops an invocation after 65,535 loop iterations; under
    // such a budget (here far smaller) the columns are split into windows.
    let capped = GpuContext::with_options(&ContextOptions::default().loop_cap(3000)).unwrap();
    assert_eq!(capped.loop_limit(), Some(3000));
    let mut rng = TestRng::new(seed("loop budget"));
    let p = problem(&mut rng, 200, 700, 2, Cost::SqEuclidean, true, (1.0, 1.0));
    let config = fixed(15).eps(0.1).tau(0.95);
    compare(
        "loop budget",
        &transport::solve(&capped, &p, &config).unwrap(),
        &transport::solve_cpu(&p, &config).unwrap(),
    );
    // Maps and samples walk the columns in windows too.
    let windowed = transport::Coupling::solve(&capped, &p, &config).unwrap();
    let whole = transport::Coupling::solve(ctx(), &p, &config).unwrap();
    check_coupling_windows("loop budget, coupling", &windowed, &whole, &p, &mut rng);
    let matrix: Vec<f32> = (0..90 * 400).map(|_| rng.uniform() as f32).collect();
    let p = Problem::from_cost_matrix(matrix, 90, 400).unwrap();
    let config = fixed(15).eps(0.05);
    compare(
        "loop budget, dense",
        &transport::solve(&capped, &p, &config).unwrap(),
        &transport::solve_cpu(&p, &config).unwrap(),
    );
}
