//! Visual check of the transport engine: a Gaussian blob is transported onto a ring.
//! Draws the source (blue circles), the target (orange triangles), the entropic map of
//! each source point (vermillion crosses) and pairs drawn from the plan (grey), and
//! writes `transport_map.png`.
//!
//! `cargo run --release --example transport_map [-- OUT.png]`

use morphogen::figures::engines;
use morphogen::gpu::GpuContext;
use morphogen::transport::{Coupling, PointCloud, Problem, SinkhornConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "transport_map.png".into());
    let ctx = GpuContext::new()?;
    let n = 600;
    // Deterministic points: a Gaussian blob (Box-Muller on a low-discrepancy sequence)
    // and a noisy ring.
    let frac = |k: usize, a: f64| (k as f64 * a).fract();
    let blob: Vec<f32> = (0..n)
        .flat_map(|k| {
            let (u, v) = (
                frac(k, 0.754_877_666) * 0.999 + 0.0005,
                frac(k, 0.569_840_291),
            );
            let r = (-2.0 * u.ln()).sqrt() * 0.35;
            let t = std::f64::consts::TAU * v;
            [(r * t.cos()) as f32, (r * t.sin()) as f32]
        })
        .collect();
    let ring: Vec<f32> = (0..n)
        .flat_map(|k| {
            let t = std::f64::consts::TAU * (k as f64 + 0.5) / n as f64;
            let r = 1.6 + 0.08 * (frac(k, 0.618_034) - 0.5);
            [(r * t.cos() + 0.4) as f32, (r * t.sin()) as f32]
        })
        .collect();
    let problem = Problem::new(
        PointCloud::new(blob.clone(), 2)?,
        PointCloud::new(ring.clone(), 2)?,
    )?;
    let config = SinkhornConfig::default()
        .eps_rel(0.005)
        .threshold(1e-4)
        .adaptive_momentum();
    let coupling = Coupling::solve(&ctx, &problem, &config)?;
    let s = coupling.solution();
    println!(
        "{} iterations, converged {}, marginal error {:.2e}, OT_eps {:.4}, <C,P> {:.4} on {}",
        s.iterations,
        s.converged,
        s.marginal_error,
        s.reg_ot_cost,
        s.primal_cost,
        ctx.adapter()
    );
    let mapped = coupling.map(&blob)?;
    let pairs = coupling.sample(300, 1)?;
    let title = format!(
        "A Gaussian blob transported onto a ring, squared Euclidean cost\n{}",
        engines::transport_parameters(s)
    );
    engines::transport_map(&title, &blob, &ring, &mapped, &pairs)?
        .save(std::path::Path::new(&out))?;
    println!("wrote {out}");
    Ok(())
}
