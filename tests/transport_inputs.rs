//! Bad transport inputs are clear errors; extreme but valid ones give finite answers.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::transport::{self, Cost, PointCloud, Problem, SinkhornConfig};
use morphogen::Error;

fn message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::InvalidInput(m)) => m,
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}

fn unit_square(n: usize) -> PointCloud {
    PointCloud::new((0..2 * n).map(|i| (i as f32 * 0.37).sin()).collect(), 2).unwrap()
}

#[test]
fn malformed_clouds_and_weights_are_refused_with_the_reason() {
    assert!(message(PointCloud::new(vec![0.0, f32::NAN, 1.0, 2.0], 2))
        .contains("point 0 has a non-finite coordinate"));
    assert!(message(PointCloud::new(vec![0.0, 1.0, 2.0], 2)).contains("do not split"));
    assert!(message(PointCloud::new(vec![], 2)).contains("at least one point"));
    assert!(message(PointCloud::new(vec![1.0], 0)).contains("dimension"));
    let x = unit_square(3);
    assert!(message(x.clone().with_weights(vec![0.5, -0.1, 0.6])).contains("weight 1 is -0.1"));
    assert!(message(x.clone().with_weights(vec![0.0, 0.0, 0.0])).contains("sum to zero"));
    assert!(message(x.clone().with_weights(vec![0.5, f32::INFINITY, 0.6])).contains("finite"));
    assert!(message(x.clone().with_weights(vec![0.5, 0.5])).contains("2 weights given for 3"));
    let y3 = PointCloud::new(vec![0.0; 9], 3).unwrap();
    assert!(message(Problem::new(x, y3)).contains("dimension 2 but the target points 3"));
    assert!(message(Problem::from_cost_matrix(vec![1.0; 5], 2, 3)).contains("needs 6 entries"));
    assert!(message(Problem::from_cost_matrix(vec![1.0, f32::NAN], 1, 2)).contains("(0, 1)"));
    assert!(message(Cost::parse("cosine")).contains("unknown cost"));
    assert_eq!(
        Cost::parse("elastic:0.5").unwrap(),
        Cost::Elastic { gamma: 0.5 }
    );
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    let p = Problem::new(unit_square(4), unit_square(5)).unwrap();
    let cases = [
        (SinkhornConfig::default().eps(0.0), "epsilon"),
        (SinkhornConfig::default().eps(-1.0), "epsilon"),
        (SinkhornConfig::default().tau(0.0), "tau"),
        (SinkhornConfig::default().tau_b(1.5), "tau"),
        (SinkhornConfig::default().rho(-2.0), "rho"),
        (SinkhornConfig::default().eps_scaling(1.0), "scaling"),
        (SinkhornConfig::default().momentum(2.0), "momentum"),
        (SinkhornConfig::default().check_every(0), "check_every"),
        (SinkhornConfig::default().max_iter(0), "max_iter"),
    ];
    for (config, word) in cases {
        let m = message(transport::solve(ctx(), &p, &config));
        assert!(m.contains(word), "{word}: {m}");
    }
}

#[test]
fn balanced_masses_must_agree_unless_relaxed() {
    let x = unit_square(4).with_weights(vec![0.25; 4]).unwrap();
    let y = unit_square(5).with_weights(vec![0.3; 5]).unwrap();
    let p = Problem::new(x.clone(), y.clone()).unwrap();
    let m = message(transport::solve(ctx(), &p, &SinkhornConfig::default()));
    assert!(m.contains("tau < 1") && m.contains("Normalise"), "{m}");
    // Unbalanced: fine.
    assert!(transport::solve(ctx(), &p, &SinkhornConfig::default().tau(0.9)).is_ok());
    // float32 rounding of the totals is corrected, not refused.
    let y = unit_square(3).with_weights(vec![0.333_333_34; 3]).unwrap();
    let s = transport::solve(
        ctx(),
        &Problem::new(x, y).unwrap(),
        &SinkhornConfig::default(),
    )
    .unwrap();
    assert!((s.transported_mass - 1.0).abs() < 1e-5);
}

#[test]
fn small_epsilon_with_scaling_stays_finite_and_converges() {
    let mut rng = TestRng::new(seed("small_eps"));
    let pts =
        |rng: &mut TestRng, n: usize| (0..2 * n).map(|_| rng.uniform() as f32).collect::<Vec<_>>();
    let x = PointCloud::new(pts(&mut rng, 120), 2).unwrap();
    let y = PointCloud::new(pts(&mut rng, 90), 2).unwrap();
    let p = Problem::new(x, y).unwrap();
    // Plain Sinkhorn needs O(1/eps) iterations here; over-relaxation cuts them.
    let config = SinkhornConfig::default()
        .eps(1e-4)
        .eps_scaling(0.7)
        .momentum(1.8)
        .threshold(1e-3)
        .max_iter(5000);
    let s = transport::solve(ctx(), &p, &config).unwrap();
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    assert!(finite(&s.f) && finite(&s.g), "potentials must stay finite");
    assert!(s.reg_ot_cost.is_finite() && s.primal_cost.is_finite());
    assert!(
        s.errors.iter().all(|(_, e)| e.is_finite()),
        "{:?}",
        s.errors
    );
    assert!(s.converged, "{:?}", s.errors.last());
    // At eps this small the entropic cost is close to the exact OT cost, which is at most
    // the cost of any coupling, e.g. the independent one.
    assert!(
        s.primal_cost > 0.0 && s.primal_cost < 0.2,
        "{}",
        s.primal_cost
    );
}
