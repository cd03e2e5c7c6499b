//! The flow engine against PyTorch and diffrax (fixtures written by
//! tests/fixtures/make_flow_fixtures.py): a TorchCFM MLP exported by
//! scripts/export_model.py loads with and without its spec, evaluates as PyTorch does,
//! and integrates to diffrax's trajectories.

mod common;

use common::ctx;
use morphogen::flow::{self, eval, FlowConfig, Solver, VelocityField};
use serde_json::Value;

const WEIGHTS: &[u8] = include_bytes!("fixtures/torchcfm.safetensors");
const SPEC: &str = include_str!("fixtures/torchcfm.json");
const FIXTURE: &str = include_str!("fixtures/flow.json");

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// The fixture files written to a temporary folder, loaded as a user would.
fn load(with_spec: bool) -> VelocityField {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "morphogen-flow-fixture-{}-{call}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (weights, spec) = (dir.join("torchcfm.safetensors"), dir.join("torchcfm.json"));
    std::fs::write(&weights, WEIGHTS).unwrap();
    std::fs::write(&spec, SPEC).unwrap();
    let field = VelocityField::load(&weights, with_spec.then_some(spec.as_path())).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    field
}

#[test]
fn the_exported_torchcfm_mlp_loads_with_and_without_its_spec() {
    let (plain, specified) = (load(false), load(true));
    assert_eq!(plain, specified, "TorchCFM's layout is what the spec says");
    assert_eq!(
        (
            plain.dim,
            plain.input_width(),
            plain.layers.len(),
            plain.parameters()
        ),
        (2, 3, 4, 256 + 2 * 4160 + 130)
    );
}

#[test]
fn the_network_evaluates_as_pytorch_does() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let field = load(false);
    let inputs = rows(&fixture["forward"]["inputs"]);
    let outputs = rows(&fixture["forward"]["outputs"]);
    for (input, want) in inputs.iter().zip(&outputs) {
        let got = eval::eval(&field, &input[..2], input[2], &[]);
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < 1e-9 * w.abs().max(1.0),
                "{input:?}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn trajectories_match_diffrax() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let field = load(false);
    let x0: Vec<f32> = rows(&fixture["flow"]["x0"])
        .concat()
        .iter()
        .map(|&v| v as f32)
        .collect();
    let times: Vec<f64> = fixture["flow"]["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let states: Vec<Vec<Vec<f64>>> = fixture["flow"]["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(rows)
        .collect();
    for solver in [Solver::Dopri5, Solver::Tsit5, Solver::Rk4] {
        let config = FlowConfig::default()
            .solver(solver)
            .tolerances(1e-6, 1e-6)
            .steps(100)
            .save_at(&times);
        let out = flow::integrate(ctx(), &field, &x0, &[], &config).unwrap();
        let cpu = flow::integrate_cpu(&field, &x0, &[], &config).unwrap();
        let mut cpu_worst: f64 = 0.0;
        for (k, at) in states.iter().enumerate() {
            for (p, want) in at.iter().enumerate() {
                for (g, w) in cpu.state(k, p).iter().zip(want) {
                    cpu_worst = cpu_worst.max((f64::from(*g) - w).abs() / (1e-6 + 1e-6 * w.abs()));
                }
            }
        }
        eprintln!("{solver:?}: cpu reference deviates {cpu_worst:.2} tolerances");
        let mut worst: f64 = 0.0;
        for (k, at) in states.iter().enumerate() {
            for (p, want) in at.iter().enumerate() {
                let got = out.state(k, p);
                for (g, w) in got.iter().zip(want) {
                    // In units of the tolerance asked for, atol + rtol |y| with 1e-6 each.
                    worst = worst.max((f64::from(*g) - w).abs() / (1e-6 + 1e-6 * w.abs()));
                }
            }
        }
        eprintln!("{solver:?}: worst deviation from diffrax {worst:.2} tolerances");
        // Step control bounds each step's local error; the global error of a trajectory
        // is a few tens of tolerances here in f64 as well. The GPU must be as close to
        // diffrax's tight solution as the f64 reference at the same settings is.
        assert!(
            worst <= 1.5 * cpu_worst + 5.0,
            "{solver:?}: {worst} tolerances, reference {cpu_worst}"
        );
        assert!(worst < 200.0, "{solver:?}: {worst} tolerances");
    }
}
