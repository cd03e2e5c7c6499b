//! Visual check of the transport engine: a Gaussian blob is transported onto a ring.
//! Draws the source (blue), the target (orange), the entropic map of each source point
//! (grey segments ending at the mapped point, red) and writes `transport_map.png`.
//!
//! `cargo run --release --example transport_map [-- OUT.png]`

use morphogen::gpu::GpuContext;
use morphogen::io::Canvas;
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
    let pairs = |v: &[f32]| v.chunks(2).map(|p| [p[0], p[1]]).collect::<Vec<_>>();
    let (src, dst, img) = (pairs(&blob), pairs(&ring), pairs(&mapped));
    let all: Vec<[f32; 2]> = src.iter().chain(&dst).copied().collect();
    let mut canvas = Canvas::fit(900, 900, [255, 255, 255], &all);
    for (a, b) in src.iter().zip(&img) {
        canvas.line(*a, *b, [120, 120, 120], 0.25);
    }
    for p in &dst {
        canvas.point(*p, 3.0, [240, 140, 20], 0.8);
    }
    for p in &src {
        canvas.point(*p, 2.5, [40, 90, 220], 0.8);
    }
    for p in &img {
        canvas.point(*p, 1.5, [200, 30, 30], 0.9);
    }
    canvas.save(std::path::Path::new(&out))?;
    println!("wrote {out}");
    Ok(())
}
