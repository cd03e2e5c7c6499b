//! Visual check of stochastic, weighted, branching particles: particles from eight
//! Gaussians follow two branches in one dispatch, each an SDE (SRA1, 0.3 √(t(1−t))):
//! branch 0 the shipped TorchCFM field (onto two moons), branch 1 a rotation. Growth heads
//! g = ±(1.2 t − 0.3) move mass additively from branch 0 to branch 1 and back, so each
//! particle's two weights always sum to one. Draws paths and end points per branch (opacity
//! by weight) beside panels of each branch's mass and effective sample size against time
//! into `flow_branches.png`, and prints them per save time.
//!
//! `cargo run --release --example flow_branches [-- OUT.png]`

use morphogen::figures::{engines, Figure};
use morphogen::flow::sde::{self, Branch, Diffusion, Growth, SdeConfig, SdeSolver};
use morphogen::flow::{Activation, Dense, TimeInput, VelocityField};
use morphogen::gpu::GpuContext;

/// A growth head that depends on t only: g(x, t) = a t + b.
fn growth(a: f32, b: f32) -> Result<VelocityField, morphogen::Error> {
    let mut head = VelocityField::from_layers(
        2,
        TimeInput::Last,
        Activation::Identity,
        vec![Dense {
            inputs: 3,
            outputs: 2,
            weight: vec![0.0; 6],
            bias: vec![0.0; 2],
        }],
    )?;
    head.layers = vec![Dense {
        inputs: 3,
        outputs: 1,
        weight: vec![0.0, 0.0, a],
        bias: vec![b],
    }];
    head.scalar = true;
    head.validate()?;
    Ok(head)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "flow_branches.png".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let moons = VelocityField::load(
        &root.join("assets/demo_flow.safetensors"),
        Some(&root.join("assets/demo_flow.json")),
    )?;
    let branches = [
        Branch::new(moons).growth(growth(-1.2, 0.3)?),
        Branch::new(VelocityField::rotation(2.0)).growth(growth(1.2, -0.3)?),
    ];
    let n = 1500;
    let x0 = morphogen::flow::eight_gaussians(n, 5.0, 0.5, 7);
    let times: Vec<f64> = (1..=20).map(|k| f64::from(k) / 20.0).collect();
    let config = SdeConfig::default()
        .solver(SdeSolver::Sra1)
        .diffusion(Diffusion::Bridge(0.3))
        .growth(Growth::Additive)
        .initial_weights(&[0.5, 0.5])
        .steps(100)
        .save_at(&times)
        .seed(11);
    let ctx = GpuContext::new()?;
    let result = sde::simulate(&ctx, &branches, &x0, &[], &[], &config)?;
    println!(
        "{n} particles x 2 branches, {} steps, on {}",
        result.steps,
        ctx.adapter()
    );
    for (k, t) in result.times.iter().enumerate().step_by(5) {
        println!(
            "t = {t:.2}: mass {:.1} + {:.1}, ESS {:.0} / {:.0}",
            result.mass[2 * k],
            result.mass[2 * k + 1],
            result.ess[2 * k],
            result.ess[2 * k + 1]
        );
    }
    // Paths and weighted end points per branch, beside the mass and ESS of each branch.
    let title = format!("Two branches of {n} particles: sra1, bridge noise 0.3, 100 steps");
    let paths = engines::branch_trajectories(&title, &result, &x0)?;
    let [mass, ess] = engines::sde_weight_panels("Growth heads moving mass", &result, 600, 450)?;
    Figure::beside(&[paths, Figure::below(&[mass, ess])]).save(std::path::Path::new(&out))?;
    println!("wrote {out}");
    Ok(())
}
