use morphogen::gpu::GpuContext;
use morphogen::transport::{self, PointCloud, Problem, SinkhornConfig};
fn main() {
    let ctx = GpuContext::new().unwrap();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (n, d) = (args[0], args[1]);
    let mut s = 1u64;
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f64 / (1u64 << 31) as f64) as f32
    };
    let x = PointCloud::new((0..n * d).map(|_| u()).collect(), d).unwrap();
    let y = PointCloud::new((0..n * d).map(|_| u() + 0.1).collect(), d).unwrap();
    let p = Problem::new(x, y).unwrap();
    let config = SinkhornConfig::default()
        .eps(0.02)
        .threshold(0.0)
        .max_iter(20);
    let _ = transport::solve(&ctx, &p, &config.clone().max_iter(2)).unwrap();
    let t = std::time::Instant::now();
    let sol = transport::solve(&ctx, &p, &config).unwrap();
    let dt = t.elapsed().as_secs_f64();
    println!(
        "n={n} d={d}: {} it in {dt:.3}s = {:.1} ms/it, {:.3} G entries/s",
        sol.iterations,
        dt / sol.iterations as f64 * 1e3,
        2.0 * (n * n) as f64 * sol.iterations as f64 / dt / 1e9
    );
}
