//! Toy distributions of the flow-matching literature, drawn with the crate's counter-based
//! generator so a seed gives the same points everywhere.

/// `n` points (row-major, 2-D) from eight Gaussians of standard deviation `spread` centred
/// on a circle of `radius` at angles k π/4; point k comes from Gaussian k mod 8. TorchCFM's
/// `eight_normal_sample` source with its scale 5 and variance 0.25 is
/// `eight_gaussians(n, 5.0, 0.5, seed)`.
pub fn eight_gaussians(n: usize, radius: f64, spread: f64, seed: u64) -> Vec<f32> {
    let key = crate::rng::seed_key(seed);
    (0..n)
        .flat_map(|k| {
            let z = crate::rng::normal4(key, [k as u32, 0, 0, 0]);
            let angle = std::f64::consts::FRAC_PI_4 * (k % 8) as f64;
            [
                (radius * angle.cos() + spread * z[0]) as f32,
                (radius * angle.sin() + spread * z[1]) as f32,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_gather_around_their_centres() {
        let x = eight_gaussians(8000, 5.0, 0.5, 3);
        assert_eq!(x.len(), 16000);
        for k in 0..8 {
            let angle = std::f64::consts::FRAC_PI_4 * k as f64;
            let (cx, cy) = (5.0 * angle.cos(), 5.0 * angle.sin());
            let members: Vec<(f64, f64)> = (k..8000)
                .step_by(8)
                .map(|p| (f64::from(x[2 * p]), f64::from(x[2 * p + 1])))
                .collect();
            let mean_x = members.iter().map(|p| p.0).sum::<f64>() / members.len() as f64;
            let mean_y = members.iter().map(|p| p.1).sum::<f64>() / members.len() as f64;
            let var = members
                .iter()
                .map(|p| (p.0 - mean_x).powi(2) + (p.1 - mean_y).powi(2))
                .sum::<f64>()
                / (2.0 * members.len() as f64);
            // 1000 points: the mean within 4 standard errors, the variance within 15%.
            assert!(
                (mean_x - cx).abs() < 4.0 * 0.5 / 1000f64.sqrt(),
                "{k}: {mean_x}"
            );
            assert!(
                (mean_y - cy).abs() < 4.0 * 0.5 / 1000f64.sqrt(),
                "{k}: {mean_y}"
            );
            assert!((var - 0.25).abs() < 0.04, "{k}: variance {var}");
        }
        assert_eq!(x, eight_gaussians(8000, 5.0, 0.5, 3));
        assert_ne!(x, eight_gaussians(8000, 5.0, 0.5, 4));
    }
}
