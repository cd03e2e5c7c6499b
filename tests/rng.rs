//! The counter-based RNG on the GPU: bit-identical to the CPU twin, statistically sound,
//! reproducible by seed.

mod common;

use common::{ctx, seed};
use morphogen::gpu::{self, Draw, GpuBuffer};
use morphogen::rng;

fn draw<T: bytemuck::Pod>(n: usize, seed: u64, stream: u32, what: Draw) -> Vec<T> {
    let ctx = ctx();
    let out = GpuBuffer::<T>::scratch(ctx, n, "test.rng").unwrap();
    let mut rec = ctx.recorder("test.rng");
    gpu::record_fill(&mut rec, &out, seed, stream, what).unwrap();
    let pending = rec.read(&out).unwrap();
    rec.submit().unwrap();
    pending.wait(ctx).unwrap()
}

#[test]
fn gpu_words_equal_the_cpu_twin() {
    let seed = seed("words");
    let key = rng::seed_key(seed);
    let n = 10_003;
    let words: Vec<u32> = draw(n, seed, 3, Draw::Bits);
    let uniforms: Vec<f32> = draw(n, seed, 3, Draw::Uniform);
    let normals: Vec<f32> = draw(n, seed, 3, Draw::Normal);
    for i in 0..n {
        let counter = [(i / 4) as u32, 3, 0, 0];
        assert_eq!(
            words[i],
            rng::philox4x32_10(counter, key)[i % 4],
            "word {i}"
        );
        assert_eq!(
            uniforms[i],
            rng::uniform4(key, counter)[i % 4],
            "uniform {i}"
        );
        let want = rng::normal4(key, counter)[i % 4];
        // Box-Muller's radius r = sqrt(-2 ln u): Vulkan allows f32 log an absolute error
        // of 2^-21 near u = 1, which moves r by about 2^-21 / r, a lot when r is small.
        let u = f64::from(rng::uniform4(key, counter)[(i % 4) & !1]);
        let r = (-2.0 * u.ln()).sqrt();
        let tolerance = 2e-5 * want.abs().max(1.0) + 2f64.powi(-20) / r;
        assert!(
            (f64::from(normals[i]) - want).abs() < tolerance,
            "normal {i}: {} vs {want} (radius {r})",
            normals[i]
        );
    }
}

#[test]
fn uniforms_have_the_right_mean_variance_and_buckets() {
    let n = 1 << 20;
    let u: Vec<f32> = draw(n, seed("uniform"), 0, Draw::Uniform);
    assert!(
        u.iter().all(|&x| x > 0.0 && x < 1.0),
        "uniforms lie in the open interval"
    );
    let mean = u.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let var = u
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    // Standard errors: sqrt(1/12/n) ~ 2.8e-4 for the mean; 6 sigma bounds.
    assert!(
        (mean - 0.5).abs() < 6.0 * (1.0 / 12.0 / n as f64).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var - 1.0 / 12.0).abs() < 6.0 * (1.0 / 180.0 / n as f64).sqrt(),
        "variance {var}"
    );
    // Chi-square over 100 buckets: 99 degrees of freedom, mean 99, sd 14; fail above
    // 99 + 6 sd (a false alarm about once in a billion runs).
    let buckets = 100;
    let mut counts = vec![0u64; buckets];
    for &x in &u {
        counts[((x * buckets as f32) as usize).min(buckets - 1)] += 1;
    }
    let expected = n as f64 / buckets as f64;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    assert!(
        chi2 < 99.0 + 6.0 * (2.0f64 * 99.0).sqrt(),
        "chi-square {chi2}"
    );
}

#[test]
fn normals_have_mean_zero_and_variance_one() {
    let n = 1 << 20;
    let z: Vec<f32> = draw(n, seed("normal"), 1, Draw::Normal);
    assert!(z.iter().all(|x| x.is_finite()));
    let mean = z.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let var = z
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let kurt = z
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(4))
        .sum::<f64>()
        / n as f64
        / (var * var);
    assert!(mean.abs() < 6.0 / (n as f64).sqrt(), "mean {mean}");
    assert!(
        (var - 1.0).abs() < 6.0 * (2.0 / n as f64).sqrt(),
        "variance {var}"
    );
    assert!(
        (kurt - 3.0).abs() < 6.0 * (96.0 / n as f64).sqrt(),
        "kurtosis {kurt}"
    );
}

#[test]
fn the_same_seed_gives_the_same_stream_and_others_differ() {
    let s = seed("streams");
    let a: Vec<u32> = draw(4096, s, 0, Draw::Bits);
    let b: Vec<u32> = draw(4096, s, 0, Draw::Bits);
    let other_seed: Vec<u32> = draw(4096, s ^ 1, 0, Draw::Bits);
    let other_stream: Vec<u32> = draw(4096, s, 1, Draw::Bits);
    assert_eq!(a, b);
    let same = |x: &[u32], y: &[u32]| x.iter().zip(y).filter(|(p, q)| p == q).count();
    assert!(
        same(&a, &other_seed) < 4,
        "seeds must give independent streams"
    );
    assert!(same(&a, &other_stream) < 4, "streams must differ");
}
