//! Measures the adapter's own limits: exp2/s, FMA/s and device-memory bandwidth. Other
//! benchmarks report their rates as fractions of these.
//!
//! `cargo bench --bench adapter_limits` (writes `adapter_limits.json` into
//! `MORPHOGEN_BENCH_OUT` when that is set).

use morphogen::gpu::{measure_peaks, GpuContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = GpuContext::new()?;
    println!("adapter: {}", ctx.adapter());
    // Three measurements; the best of each is the adapter's limit.
    let runs: Vec<_> = (0..3)
        .map(|_| measure_peaks(&ctx))
        .collect::<Result<_, _>>()?;
    let best = |f: fn(&morphogen::gpu::AdapterPeaks) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    let (exp, fma, bw) = (
        best(|p| p.exp_per_s),
        best(|p| p.fma_per_s),
        best(|p| p.bytes_per_s),
    );
    println!("clock: {}", runs[0].clock);
    println!("{:<12} {:>12} {:>12} {:>12}", "", "run 1", "run 2", "run 3");
    let row = |name: &str, scale: f64, unit: &str, f: fn(&morphogen::gpu::AdapterPeaks) -> f64| {
        let cells: Vec<String> = runs
            .iter()
            .map(|p| format!("{:>12.3}", f(p) / scale))
            .collect();
        println!("{name:<12} {} {unit}", cells.join(" "));
    };
    row("exp2", 1e9, "G/s", |p| p.exp_per_s);
    row("fma", 1e9, "G/s", |p| p.fma_per_s);
    row("bandwidth", 1e9, "GB/s", |p| p.bytes_per_s);
    println!(
        "FMA per exp2 at peak: {:.2}; FLOP per byte at the ridge: {:.2}",
        fma / exp,
        2.0 * fma / bw
    );
    if let Ok(dir) = std::env::var("MORPHOGEN_BENCH_OUT") {
        let json = serde_json::json!({
            "adapter": ctx.adapter().to_string(),
            "clock": runs[0].clock,
            "exp_per_s": exp,
            "fma_per_s": fma,
            "bytes_per_s": bw,
        });
        let path = std::path::Path::new(&dir).join("adapter_limits.json");
        std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
