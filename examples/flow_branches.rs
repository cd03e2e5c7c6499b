//! Visual check of stochastic, weighted, branching particles: particles from eight
//! Gaussians follow two branches in one dispatch, each an SDE (SRA1, 0.3 √(t(1−t))):
//! branch 0 the shipped TorchCFM field (onto two moons), branch 1 a rotation. Growth heads
//! g = ±(1.2 t − 0.3) move mass additively from branch 0 to branch 1 and back, so each
//! particle's two weights always sum to one. Draws paths (faint) and end points (branch 0
//! orange, branch 1 teal, opacity by weight) into `flow_branches.png`, and prints mass and
//! effective sample size per save time.
//!
//! `cargo run --release --example flow_branches [-- OUT.png]`

use morphogen::flow::sde::{self, Branch, Diffusion, Growth, SdeConfig, SdeSolver};
use morphogen::flow::{Activation, Dense, TimeInput, VelocityField};
use morphogen::gpu::GpuContext;
use morphogen::io::Canvas;

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
    let last = result.times.len() - 1;
    let all: Vec<[f32; 2]> = (0..=last)
        .flat_map(|k| (0..2).flat_map(move |b| (0..n).map(move |p| (k, b, p))))
        .map(|(k, b, p)| {
            let s = result.state(k, b, p);
            [s[0], s[1]]
        })
        .chain(x0.chunks(2).map(|c| [c[0], c[1]]))
        .collect();
    let mut canvas = Canvas::fit(900, 900, [255, 255, 255], &all);
    let colours = [[230, 120, 30], [20, 150, 150]];
    for (b, &colour) in colours.iter().enumerate() {
        for p in (0..n).step_by(6) {
            let mut prev = [x0[2 * p], x0[2 * p + 1]];
            for k in 0..=last {
                let s = result.state(k, b, p);
                canvas.line(prev, [s[0], s[1]], colour, 0.12);
                prev = [s[0], s[1]];
            }
        }
    }
    let max_weight = (0..2)
        .flat_map(|b| (0..n).map(move |p| (b, p)))
        .map(|(b, p)| result.weight(last, b, p))
        .fold(f32::MIN_POSITIVE, f32::max);
    for (b, &colour) in colours.iter().enumerate() {
        for p in 0..n {
            let s = result.state(last, b, p);
            let alpha = (result.weight(last, b, p) / max_weight).clamp(0.05, 1.0);
            canvas.point([s[0], s[1]], 2.5, colour, alpha);
        }
    }
    canvas.save(std::path::Path::new(&out))?;
    println!("wrote {out}");
    Ok(())
}
