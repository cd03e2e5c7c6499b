//! Entropy and complexity estimates: the compressed sizes of the fine, coarse and adjusted
//! states (one byte per cell, row-major, DEFLATE at level 6), and their means and
//! standard errors over replicas.

/// DEFLATE level of every estimate (gzip's default, as the paper used).
pub const LEVEL: u8 = 6;

/// The three estimates of one replica at one sample, in compressed bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measures {
    /// Compressed fine state: the entropy estimate.
    pub entropy: usize,
    /// Compressed 3-bucket coarse-grained state: the apparent complexity.
    pub complexity: usize,
    /// Compressed adjusted 7-bucket state: the adjusted complexity.
    pub adjusted_complexity: usize,
}

/// Compressed size of `bytes`, raw DEFLATE at [`LEVEL`].
pub fn compressed_size(bytes: &[u8]) -> usize {
    miniz_oxide::deflate::compress_to_vec(bytes, LEVEL).len()
}

/// The estimates of one replica from its fine, coarse and adjusted states.
pub fn measures(fine: &[u8], coarse: &[u8], adjusted: &[u8]) -> Measures {
    Measures {
        entropy: compressed_size(fine),
        complexity: compressed_size(coarse),
        adjusted_complexity: compressed_size(adjusted),
    }
}

/// A mean over replicas and its standard error (0 for one replica).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Mean over replicas.
    pub mean: f64,
    /// Standard error of the mean: sample standard deviation / √replicas.
    pub se: f64,
}

impl Estimate {
    /// The mean and standard error of `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().collect();
        let k = v.len() as f64;
        if v.is_empty() {
            return Self::default();
        }
        let mean = v.iter().sum::<f64>() / k;
        let se = if v.len() > 1 {
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
            (var / k).sqrt()
        } else {
            0.0
        };
        Self { mean, se }
    }
}
