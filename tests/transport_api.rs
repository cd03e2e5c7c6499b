//! Maps, plan samples, dense plans, divergences and chains; closed forms.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::transport::{self, Cost, Coupling, PointCloud, Problem, SinkhornConfig};

fn cloud(rng: &mut TestRng, n: usize, d: usize, shift: f64) -> PointCloud {
    PointCloud::new(
        (0..n * d)
            .map(|_| (rng.normal() * 0.6 + shift) as f32)
            .collect(),
        d,
    )
    .unwrap()
}

/// A random cloud with random positive weights summing to 1.
fn weighted_cloud(rng: &mut TestRng, n: usize, d: usize, shift: f64) -> PointCloud {
    let c = cloud(rng, n, d, shift);
    let raw: Vec<f64> = (0..c.len()).map(|_| 0.1 + rng.uniform()).collect();
    let total: f64 = raw.iter().sum();
    c.with_weights(raw.iter().map(|w| (w / total) as f32).collect())
        .unwrap()
}

#[test]
fn the_dense_plan_matches_its_twin_and_its_marginals() {
    let mut rng = TestRng::new(seed("plan"));
    for (cost, tau) in [
        (Cost::SqEuclidean, 1.0),
        (Cost::L1, 0.8),
        (Cost::Elastic { gamma: 0.2 }, 1.0),
    ] {
        let x = weighted_cloud(&mut rng, 33, 3, 0.0);
        let y = weighted_cloud(&mut rng, 21, 3, 0.5);
        let p = Problem::with_cost(x, y, cost).unwrap();
        let coupling =
            Coupling::solve(ctx(), &p, &SinkhornConfig::default().eps(0.3).tau(tau)).unwrap();
        let plan = coupling.plan().unwrap();
        let twin = transport::plan_cpu(&p, coupling.solution());
        for (k, (&g, &c)) in plan.iter().zip(&twin).enumerate() {
            assert!(
                (f64::from(g) - c).abs() <= 1e-4 * c + 1e-9,
                "{cost:?} entry {k}: {g} vs {c}"
            );
        }
        let s = coupling.solution();
        for i in 0..p.n() {
            let row: f64 = plan[i * p.m()..(i + 1) * p.m()]
                .iter()
                .map(|&v| f64::from(v))
                .sum();
            assert!(
                (row - s.row_marginal[i]).abs() <= 1e-4 * row + 1e-8,
                "row {i}"
            );
        }
        let total: f64 = plan.iter().map(|&v| f64::from(v)).sum();
        assert!((total - s.transported_mass).abs() < 1e-4 * total);
    }
}

#[test]
fn entropic_maps_match_their_twins() {
    let mut rng = TestRng::new(seed("map"));
    for cost in [Cost::SqEuclidean, Cost::Elastic { gamma: 0.5 }] {
        for d in [2usize, 5, 40] {
            let (xs, ys) = (cloud(&mut rng, 60, d, 0.0), cloud(&mut rng, 45, d, 1.0));
            let p = Problem::with_cost(xs.clone(), ys.clone(), cost).unwrap();
            let coupling =
                Coupling::solve(ctx(), &p, &SinkhornConfig::default().eps_rel(0.1)).unwrap();
            let queries: Vec<f32> = (0..7 * d).map(|_| rng.normal() as f32).collect();
            let got = coupling.map(&queries).unwrap();
            let want = transport::map_cpu(&p, coupling.solution(), &queries);
            // The backward map is the forward map of the swapped problem, whose potentials
            // are (g, f).
            let swapped = Problem::with_cost(ys, xs, cost).unwrap();
            let mut reversed = coupling.solution().clone();
            std::mem::swap(&mut reversed.f, &mut reversed.g);
            let back = coupling.map_back(&queries).unwrap();
            let want_back = transport::map_cpu(&swapped, &reversed, &queries);
            for (k, (&g, &w)) in got
                .iter()
                .zip(&want)
                .chain(back.iter().zip(&want_back))
                .enumerate()
            {
                assert!(
                    (f64::from(g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{cost:?} d={d} coord {k} (past {}: the backward map): {g} vs {w}",
                    got.len()
                );
            }
        }
    }
    let p = Problem::with_cost(
        cloud(&mut rng, 5, 2, 0.0),
        cloud(&mut rng, 5, 2, 0.0),
        Cost::L1,
    )
    .unwrap();
    let coupling = Coupling::solve(ctx(), &p, &SinkhornConfig::default().eps(0.1)).unwrap();
    assert!(
        coupling.map(&[0.0, 0.0]).is_err(),
        "the L1 cost has no entropic map"
    );
    assert!(Coupling::solve(
        ctx(),
        &Problem::new(cloud(&mut rng, 4, 2, 0.0), cloud(&mut rng, 4, 2, 0.0)).unwrap(),
        &SinkhornConfig::default()
    )
    .unwrap()
    .map(&[0.0, 0.0, 1.0])
    .is_err());
}

#[test]
fn plan_samples_follow_the_plan_and_the_seed() {
    let mut rng = TestRng::new(seed("sample"));
    for cost in [Cost::SqEuclidean, Cost::Euclidean] {
        let x = weighted_cloud(&mut rng, 6, 2, 0.0);
        let y = weighted_cloud(&mut rng, 5, 2, 0.3);
        let p = Problem::with_cost(x, y, cost).unwrap();
        let coupling =
            Coupling::solve(ctx(), &p, &SinkhornConfig::default().eps(0.2).tau(0.9)).unwrap();
        let k = 40_000;
        let s = seed("sample draws");
        let pairs = coupling.sample(k, s).unwrap();
        assert_eq!(
            pairs,
            coupling.sample(k, s).unwrap(),
            "same seed, same pairs"
        );
        assert_ne!(
            pairs,
            coupling.sample(k, s ^ 0x55).unwrap(),
            "another seed, other pairs"
        );
        let plan = coupling.plan().unwrap();
        let total: f64 = plan.iter().map(|&v| f64::from(v)).sum();
        let mut counts = vec![0usize; plan.len()];
        for &(i, j) in &pairs {
            counts[i as usize * p.m() + j as usize] += 1;
        }
        // Chi-square over the 30 cells (29 dof: mean 29, sd 7.6); fail above mean + 6 sd.
        let chi2: f64 = counts
            .iter()
            .zip(&plan)
            .map(|(&c, &pij)| {
                let expected = f64::from(pij) / total * k as f64;
                (c as f64 - expected).powi(2) / expected
            })
            .sum();
        assert!(
            chi2 < 29.0 + 6.0 * 58f64.sqrt(),
            "{cost:?}: chi-square {chi2}"
        );
    }
}

#[test]
fn a_permutation_with_a_large_cost_gap_is_recovered() {
    let n = 50;
    let perm: Vec<usize> = (0..n).map(|i| (i * 17 + 5) % n).collect();
    let xs: Vec<f32> = (0..n).flat_map(|i| [i as f32 * 10.0, 0.0]).collect();
    let ys: Vec<f32> = (0..n)
        .flat_map(|j| [perm[j] as f32 * 10.0 + 0.5, 1.0])
        .collect();
    let p = Problem::new(
        PointCloud::new(xs, 2).unwrap(),
        PointCloud::new(ys, 2).unwrap(),
    )
    .unwrap();
    let coupling = Coupling::solve(ctx(), &p, &SinkhornConfig::default().eps(1.0)).unwrap();
    let plan = coupling.plan().unwrap();
    for j in 0..n {
        let i = perm[j];
        let row = &plan[i * n..(i + 1) * n];
        let best = (0..n).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(best, j, "point {i} goes to target {j}");
        assert!(row[j] > 0.99 / n as f32);
    }
    let pairs = coupling.sample(500, 3).unwrap();
    assert!(pairs.iter().all(|&(i, j)| perm[j as usize] == i as usize));
    let moved = coupling.map(&xs_point(7)).unwrap();
    let j = perm.iter().position(|&i| i == 7).unwrap();
    assert!(
        (moved[0] - (70.5)).abs() < 1e-3 && (moved[1] - 1.0).abs() < 1e-3,
        "{moved:?} vs target {j}"
    );
}

fn xs_point(i: usize) -> Vec<f32> {
    vec![i as f32 * 10.0, 0.0]
}

#[test]
fn diracs_have_closed_forms() {
    let x = PointCloud::new(vec![0.5, -1.0], 2).unwrap();
    let y = PointCloud::new(vec![2.0, 1.0], 2).unwrap();
    let s = transport::solve(
        ctx(),
        &Problem::new(x.clone(), y).unwrap(),
        &SinkhornConfig::default().eps(0.1),
    )
    .unwrap();
    assert!(
        (s.reg_ot_cost - 6.25).abs() < 1e-5 && (s.primal_cost - 6.25).abs() < 1e-5,
        "{s:?}"
    );
    // A Dirac against a cloud: the plan is forced to be a ⊗ b.
    let ys = PointCloud::new(vec![1.0, 0.0, -1.0, 2.0, 3.0, 3.0], 2).unwrap();
    let want: f64 = (0..3)
        .map(|j| Cost::SqEuclidean.eval(x.point(0), ys.point(j)) / 3.0)
        .sum();
    let s = transport::solve(
        ctx(),
        &Problem::new(x, ys).unwrap(),
        &SinkhornConfig::default().eps(0.5),
    )
    .unwrap();
    assert!(
        (s.primal_cost - want).abs() < 1e-4 * want,
        "{} vs {want}",
        s.primal_cost
    );
    assert!(
        (s.reg_ot_cost - want).abs() < 1e-4 * want,
        "{} vs {want}",
        s.reg_ot_cost
    );
}

/// Quantiles of N(0, 1) at (i + ½)/n, by bisection on the error function.
fn normal_quantiles(n: usize) -> Vec<f64> {
    fn cdf(x: f64) -> f64 {
        // Abramowitz–Stegun 7.1.26 is too coarse; integrate the density instead.
        let steps = 2000;
        let (lo, h) = (-10.0, (x + 10.0) / steps as f64);
        let f = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (0..steps)
            .map(|k| {
                let a = lo + k as f64 * h;
                h / 6.0 * (f(a) + 4.0 * f(a + h / 2.0) + f(a + h))
            })
            .sum()
    }
    (0..n)
        .map(|i| {
            let p = (i as f64 + 0.5) / n as f64;
            let (mut lo, mut hi) = (-10.0, 10.0);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if cdf(mid) < p {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            0.5 * (lo + hi)
        })
        .collect()
}

/// Entropic OT between N(ma, diag(va)) and N(mb, diag(vb)) for ‖x − y‖² and
/// ε KL(P | α⊗β) (Janati, Muzellec, Peyré, Cuturi 2020), diagonal case.
fn gaussian_ot(ma: &[f64], va: &[f64], mb: &[f64], vb: &[f64], eps: f64) -> f64 {
    let s2 = eps / 2.0;
    let mut total = 0.0;
    for k in 0..ma.len() {
        let dk = (4.0 * va[k] * vb[k] + s2 * s2).sqrt();
        total += (ma[k] - mb[k]).powi(2) + va[k] + vb[k] - dk
            + s2 * (1.0 - (2.0 * s2).ln())
            + s2 * (dk + s2).ln();
    }
    total
}

#[test]
fn entropic_ot_between_gaussians_matches_the_closed_form() {
    // 1-D: 1500 quantile points of each Gaussian.
    let q = normal_quantiles(1500);
    let (sa, sb, mb) = (1.0, 0.5, 2.0);
    let x = PointCloud::new(q.iter().map(|&z| (sa * z) as f32).collect(), 1).unwrap();
    let y = PointCloud::new(q.iter().map(|&z| (mb + sb * z) as f32).collect(), 1).unwrap();
    let var = |s: f64| s * s * q.iter().map(|z| z * z).sum::<f64>() / q.len() as f64;
    for eps in [0.1, 1.0] {
        let s = transport::solve(
            ctx(),
            &Problem::new(x.clone(), y.clone()).unwrap(),
            &SinkhornConfig::default().eps(eps as f32).threshold(1e-4),
        )
        .unwrap();
        let want = gaussian_ot(&[0.0], &[var(sa)], &[mb], &[var(sb)], eps);
        eprintln!("1-D eps {eps}: OT {} closed form {want}", s.reg_ot_cost);
        assert!(
            (s.reg_ot_cost - want).abs() < 5e-3 * want,
            "eps {eps}: {} vs {want}",
            s.reg_ot_cost
        );
    }
    // 2-D, axis-aligned: a 36 x 36 product grid of quantiles.
    let q = normal_quantiles(36);
    let grid = |m: [f64; 2], s: [f64; 2]| {
        let pts: Vec<f32> = q
            .iter()
            .flat_map(|&u| {
                q.iter()
                    .flat_map(move |&v| [(m[0] + s[0] * u) as f32, (m[1] + s[1] * v) as f32])
            })
            .collect();
        PointCloud::new(pts, 2).unwrap()
    };
    let var1 = q.iter().map(|z| z * z).sum::<f64>() / q.len() as f64;
    let (x, y) = (grid([0.0, 0.0], [1.0, 0.7]), grid([1.0, -0.5], [0.6, 1.2]));
    let eps = 0.5;
    let s = transport::solve(
        ctx(),
        &Problem::new(x, y).unwrap(),
        &SinkhornConfig::default().eps(eps as f32).threshold(1e-4),
    )
    .unwrap();
    let want = gaussian_ot(
        &[0.0, 0.0],
        &[var1, 0.49 * var1],
        &[1.0, -0.5],
        &[0.36 * var1, 1.44 * var1],
        eps,
    );
    eprintln!("2-D: OT {} closed form {want}", s.reg_ot_cost);
    assert!(
        (s.reg_ot_cost - want).abs() < 1e-2 * want,
        "{} vs {want}",
        s.reg_ot_cost
    );
}

#[test]
fn sinkhorn_divergences_are_debiased_symmetric_and_match_the_twin() {
    let mut rng = TestRng::new(seed("divergence"));
    let x = weighted_cloud(&mut rng, 40, 2, 0.0);
    let y = weighted_cloud(&mut rng, 31, 2, 0.7);
    for config in [
        SinkhornConfig::default().eps_rel(0.1).threshold(1e-5),
        SinkhornConfig::default().eps(0.2).tau(0.8).threshold(1e-5),
    ] {
        let xx = transport::sinkhorn_divergence(ctx(), &x, &x, Cost::SqEuclidean, &config).unwrap();
        assert!(xx.value.abs() < 1e-6, "S(x, x) = {}", xx.value);
        let xy = transport::sinkhorn_divergence(ctx(), &x, &y, Cost::SqEuclidean, &config).unwrap();
        let yx = transport::sinkhorn_divergence(ctx(), &y, &x, Cost::SqEuclidean, &config).unwrap();
        assert!(xy.value > 0.0);
        assert!(
            (xy.value - yx.value).abs() < 1e-4 * xy.value,
            "symmetry: {} vs {}",
            xy.value,
            yx.value
        );
        let twin = transport::sinkhorn_divergence_cpu(&x, &y, Cost::SqEuclidean, &config).unwrap();
        assert!(
            (xy.value - twin.value).abs() < 1e-4 * twin.value + 1e-6,
            "{} vs {}",
            xy.value,
            twin.value
        );
    }
    // Unequal masses, unbalanced: the mass term enters.
    let y2 = cloud(&mut rng, 31, 2, 0.7);
    let y2 = y2.clone().with_weights(vec![2.0 / 31.0; 31]).unwrap();
    let config = SinkhornConfig::default().eps(0.2).rho(1.0).threshold(1e-5);
    let gpu = transport::sinkhorn_divergence(ctx(), &x, &y2, Cost::SqEuclidean, &config).unwrap();
    let cpu = transport::sinkhorn_divergence_cpu(&x, &y2, Cost::SqEuclidean, &config).unwrap();
    assert!(
        gpu.value > 0.0 && (gpu.value - cpu.value).abs() < 1e-4 * cpu.value,
        "{} vs {}",
        gpu.value,
        cpu.value
    );
}

#[test]
fn chains_of_snapshots_solve_each_consecutive_pair() {
    let mut rng = TestRng::new(seed("chain"));
    let same: Vec<PointCloud> = (0..4)
        .map(|t| cloud(&mut rng, 30, 2, t as f64 * 0.3))
        .collect();
    let config = SinkhornConfig::default()
        .eps(0.1)
        .threshold(0.0)
        .max_iter(30);
    let chain = transport::solve_chain(ctx(), &same, Cost::SqEuclidean, &config).unwrap();
    assert_eq!(chain.len(), 3);
    for (t, s) in chain.iter().enumerate() {
        let single = transport::solve(
            ctx(),
            &Problem::new(same[t].clone(), same[t + 1].clone()).unwrap(),
            &config,
        )
        .unwrap();
        assert_eq!(s.f, single.f);
    }
    let ragged = vec![
        cloud(&mut rng, 20, 2, 0.0),
        cloud(&mut rng, 35, 2, 0.5),
        cloud(&mut rng, 12, 2, 1.0),
    ];
    let chain = transport::solve_chain(ctx(), &ragged, Cost::SqEuclidean, &config).unwrap();
    assert_eq!(
        (chain[0].f.len(), chain[0].g.len(), chain[1].g.len()),
        (20, 35, 12)
    );
    assert!(transport::solve_chain(ctx(), &ragged[..1], Cost::SqEuclidean, &config).is_err());
}

#[test]
fn gradients_match_finite_differences_of_the_twin() {
    let mut rng = TestRng::new(seed("gradients"));
    let (xs, ys) = (cloud(&mut rng, 7, 2, 0.0), cloud(&mut rng, 6, 2, 0.8));
    let p = Problem::new(xs.clone(), ys.clone()).unwrap();
    for (label, config) in [
        (
            "balanced",
            SinkhornConfig::default()
                .eps(0.3)
                .threshold(1e-6)
                .max_iter(20000),
        ),
        (
            "unbalanced",
            SinkhornConfig::default()
                .eps(0.3)
                .rho(2.0)
                .threshold(1e-6)
                .max_iter(20000),
        ),
    ] {
        // The twin's analytic gradient against central differences of its OT_eps.
        let cpu = transport::solve_cpu(&p, &config).unwrap();
        let (gx, gy) = transport::gradients_cpu(&p, &cpu).unwrap();
        let value = |x: &[f32], y: &[f32]| {
            let q = Problem::new(
                PointCloud::new(x.to_vec(), 2).unwrap(),
                PointCloud::new(y.to_vec(), 2).unwrap(),
            )
            .unwrap();
            transport::solve_cpu(&q, &config.clone().threshold(1e-10))
                .unwrap()
                .reg_ot_cost
        };
        let h = 1e-3f32;
        for k in [0usize, 5, 13] {
            let (mut plus, mut minus) = (xs.points().to_vec(), xs.points().to_vec());
            plus[k] += h;
            minus[k] -= h;
            let fd = (value(&plus, ys.points()) - value(&minus, ys.points())) / f64::from(2.0 * h);
            assert!(
                (fd - gx[k]).abs() < 1e-3 * (1.0 + fd.abs()),
                "{label} x[{k}]: {fd} vs {}",
                gx[k]
            );
            let (mut plus, mut minus) = (ys.points().to_vec(), ys.points().to_vec());
            plus[k % 12] += h;
            minus[k % 12] -= h;
            let fd = (value(xs.points(), &plus) - value(xs.points(), &minus)) / f64::from(2.0 * h);
            let want = gy[k % 12];
            assert!(
                (fd - want).abs() < 1e-3 * (1.0 + fd.abs()),
                "{label} y[{}]: {fd} vs {want}",
                k % 12
            );
        }
        // The GPU's gradients (maps both ways) against the twin's at the GPU's potentials.
        let coupling = Coupling::solve(ctx(), &p, &config.clone().threshold(1e-5)).unwrap();
        let got = coupling.gradients().unwrap();
        let (wx, wy) = transport::gradients_cpu(&p, coupling.solution()).unwrap();
        for (k, (&g, &w)) in got
            .source
            .iter()
            .chain(&got.target)
            .zip(wx.iter().chain(&wy))
            .enumerate()
        {
            assert!(
                (f64::from(g) - w).abs() < 1e-4 * (1.0 + w.abs()),
                "{label} gradient {k}: {g} vs {w}"
            );
        }
    }
    // The divergence's gradient: the twin's value by central differences.
    let config = SinkhornConfig::default()
        .eps(0.3)
        .threshold(1e-6)
        .max_iter(20000);
    let (d, grads) =
        transport::sinkhorn_divergence_grad(ctx(), &xs, &ys, Cost::SqEuclidean, &config).unwrap();
    let twin = transport::sinkhorn_divergence_cpu(&xs, &ys, Cost::SqEuclidean, &config).unwrap();
    assert!((d.value - twin.value).abs() < 1e-4 * (1.0 + twin.value.abs()));
    let value = |x: &[f32]| {
        let x = PointCloud::new(x.to_vec(), 2).unwrap();
        transport::sinkhorn_divergence_cpu(
            &x,
            &ys,
            Cost::SqEuclidean,
            &config.clone().threshold(1e-10),
        )
        .unwrap()
        .value
    };
    for k in [1usize, 8] {
        let (mut plus, mut minus) = (xs.points().to_vec(), xs.points().to_vec());
        plus[k] += 1e-3;
        minus[k] -= 1e-3;
        let fd = (value(&plus) - value(&minus)) / 2e-3;
        let g = f64::from(grads.source[k]);
        assert!(
            (fd - g).abs() < 2e-3 * (1.0 + fd.abs()),
            "divergence x[{k}]: {fd} vs {g}"
        );
    }
    // Other costs say they have no gradient here.
    let l1 = Problem::with_cost(xs, ys, Cost::L1).unwrap();
    let err = Coupling::solve(ctx(), &l1, &config)
        .unwrap()
        .gradients()
        .unwrap_err();
    assert!(err.to_string().contains("squared Euclidean"), "{err}");
}

#[test]
fn a_solve_reports_its_checks_and_stops_when_asked() {
    let mut rng = TestRng::new(seed("solve progress"));
    let p = Problem::new(cloud(&mut rng, 50, 2, 0.0), cloud(&mut rng, 40, 2, 0.5)).unwrap();
    let config = SinkhornConfig::default()
        .eps(0.02)
        .threshold(1e-5)
        .max_iter(3000);
    let mut reports = Vec::new();
    let watched = transport::solve_with_progress(ctx(), &p, &config, &mut |t, most, error| {
        reports.push((t, most, error));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        watched.f,
        transport::solve(ctx(), &p, &config).unwrap().f,
        "watching changes nothing"
    );
    let errors: Vec<(usize, f64)> = reports.iter().map(|&(t, _, e)| (t, e)).collect();
    assert_eq!(
        errors, watched.errors,
        "one report per check, with its error"
    );
    assert!(reports.iter().all(|r| r.1 == 3000));
    let mut calls = 0;
    let stopped = transport::solve_with_progress(ctx(), &p, &config, &mut |_, _, _| {
        calls += 1;
        Err(morphogen::Error::invalid("stopped by the caller"))
    });
    assert_eq!(calls, 1);
    assert!(stopped
        .unwrap_err()
        .to_string()
        .contains("stopped by the caller"));
}
