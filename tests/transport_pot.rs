//! The GPU solver against POT (fixtures written by tests/fixtures/make_pot_fixtures.py):
//! `ot.bregman.sinkhorn_log` for balanced problems, `ot.unbalanced.sinkhorn_unbalanced`
//! with `reg_type="kl"` for unbalanced and semi-relaxed ones.

mod common;

use common::ctx;
use morphogen::transport::{Cost, Coupling, PointCloud, Problem, SinkhornConfig};
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/pot.json");

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Entries that are null (undetermined potentials of zero weights) become NaN.
fn maybe(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn problem(fx: &Value) -> Problem {
    let (a, b) = (floats(&fx["a"]), floats(&fx["b"]));
    let (n, m) = (a.len(), b.len());
    let cost = fx["cost"].as_str().unwrap();
    if cost == "matrix" {
        return Problem::from_cost_matrix(floats(&fx["matrix"]), n, m)
            .unwrap()
            .with_weights(a, b)
            .unwrap();
    }
    let d = fx["dim"].as_u64().unwrap() as usize;
    let x = PointCloud::new(floats(&fx["x"]), d)
        .unwrap()
        .with_weights(a)
        .unwrap();
    let y = PointCloud::new(floats(&fx["y"]), d)
        .unwrap()
        .with_weights(b)
        .unwrap();
    Problem::with_cost(x, y, Cost::parse(cost).unwrap()).unwrap()
}

fn config(fx: &Value) -> SinkhornConfig {
    let mut config = SinkhornConfig::default()
        .eps(fx["eps"].as_f64().unwrap() as f32)
        .threshold(2e-6)
        .max_iter(20_000);
    if let Some(rho) = fx["rho"].as_array() {
        if let Some(r) = rho[0].as_f64() {
            config = config.rho_a(r as f32);
        }
        if let Some(r) = rho[1].as_f64() {
            config = config.rho_b(r as f32);
        }
    }
    config
}

#[test]
fn plans_costs_and_potentials_agree_with_pot() {
    let fixtures: Vec<Value> = serde_json::from_str(FIXTURES).unwrap();
    assert!(fixtures.len() >= 8);
    for fx in &fixtures {
        let name = fx["name"].as_str().unwrap();
        let p = problem(fx);
        let coupling = Coupling::solve(ctx(), &p, &config(fx)).unwrap();
        let s = coupling.solution();
        assert!(s.converged, "{name}: {:?}", s.errors.last());

        let plan = coupling.plan().unwrap();
        let want = maybe(&fx["plan"]);
        let peak = want.iter().fold(0.0f64, |a, &b| a.max(b));
        let worst = plan
            .iter()
            .zip(&want)
            .map(|(&g, &w)| (f64::from(g) - w).abs() / (1e-3 * w + 1e-4 * peak))
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "{name}: plan off by {worst} tolerances");

        let cost = fx["transport_cost"].as_f64().unwrap();
        assert!(
            (s.primal_cost - cost).abs() <= 1e-4 * cost,
            "{name}: <C, P> {} vs POT {cost}",
            s.primal_cost
        );

        let (f, g) = (maybe(&fx["f"]), maybe(&fx["g"]));
        // Balanced potentials are defined up to (f + c, g - c): fix c on the live entries.
        let balanced = fx["rho"].is_null();
        let live_f: Vec<usize> = (0..f.len()).filter(|&i| f[i].is_finite()).collect();
        let shift = if balanced {
            live_f
                .iter()
                .map(|&i| f[i] - f64::from(s.f[i]))
                .sum::<f64>()
                / live_f.len() as f64
        } else {
            0.0
        };
        let scale = f
            .iter()
            .chain(&g)
            .filter(|v| v.is_finite())
            .fold(s.epsilon, |a, &v| a.max(v.abs()));
        for &i in &live_f {
            let d = (f64::from(s.f[i]) + shift - f[i]).abs();
            assert!(
                d <= 2e-4 * scale,
                "{name}: f[{i}] {} vs POT {}",
                f64::from(s.f[i]) + shift,
                f[i]
            );
        }
        for (j, &gj) in g.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let d = (f64::from(s.g[j]) - shift - gj).abs();
            assert!(
                d <= 2e-4 * scale,
                "{name}: g[{j}] {} vs POT {gj}",
                f64::from(s.g[j]) - shift
            );
        }
        eprintln!(
            "{name}: {} iterations, <C,P> {} (POT {cost}), worst plan entry {worst:.2} tolerances",
            s.iterations, s.primal_cost
        );
    }
}
