//! Visual check of the flow engine: particles from eight Gaussians pushed through the
//! shipped TorchCFM field (assets/demo_flow, trained by scripts/train_demo_flow.py onto
//! two moons) with per-particle Tsit5 steps. Draws each trajectory coloured by time, the
//! start (blue) and the end (orange) into `flow_trajectories.png`.
//!
//! `cargo run --release --example flow_trajectories [-- OUT.png]`

use morphogen::figures::engines;
use morphogen::flow::{self, FlowConfig, LogDensity, Solver, VelocityField};
use morphogen::gpu::GpuContext;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "flow_trajectories.png".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let field = VelocityField::load(
        &root.join("assets/demo_flow.safetensors"),
        Some(&root.join("assets/demo_flow.json")),
    )?;
    let ctx = GpuContext::new()?;
    // Eight Gaussians of radius 5 and spread 0.5 (the training source), drawn with the
    // crate's counter-based generator.
    let n = 2000;
    let x0 = morphogen::flow::eight_gaussians(n, 5.0, 0.5, 7);
    let times: Vec<f64> = (0..=40).map(|k| k as f64 / 40.0).collect();
    let config = FlowConfig::default()
        .solver(Solver::Tsit5)
        .save_at(&times)
        .log_density(LogDensity::Exact, 0);
    let result = flow::integrate(&ctx, &field, &x0, &[], &config)?;
    let evals: u64 = result.evaluations.iter().map(|&e| u64::from(e)).sum();
    println!(
        "{n} particles, {:.1} evaluations each on average, {} hit the step cap, on {}",
        evals as f64 / n as f64,
        result.capped.len(),
        ctx.adapter()
    );
    let title = format!(
        "The shipped field, eight Gaussians to two moons: {n} particles\ntsit5, rtol {:.0e}, atol {:.0e}",
        config.rtol, config.atol
    );
    engines::trajectories(&title, &result)?.save(std::path::Path::new(&out))?;
    if let Some(change) = &result.log_density_change {
        let last = &change[(times.len() - 1) * n..];
        let mean = last.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        println!("mean log-density change from t = 0 to 1: {mean:.3}");
    }
    println!("wrote {out}");
    Ok(())
}
