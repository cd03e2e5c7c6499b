//! Least-squares polynomial fits, for the scaling study (the paper's Figs. 6-8: maximum
//! entropy and time of the complexity peak against n fitted by quadratics, maximum
//! complexity by a line).

/// A fitted polynomial and its coefficient of determination.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Coefficients from the constant term up: `y ≈ Σ c_k x^k`.
    pub coefficients: Vec<f64>,
    /// `1 − SS_res / SS_tot` (1 for a perfect fit; NaN when every y is equal).
    pub r_squared: f64,
}

impl Fit {
    /// The polynomial at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.coefficients
            .iter()
            .rev()
            .fold(0.0, |acc, c| acc * x + c)
    }

    /// `a n² + b n + c` with the coefficients printed to 4 significant digits.
    pub fn formula(&self, var: &str) -> String {
        let mut terms = Vec::new();
        for (k, c) in self.coefficients.iter().enumerate().rev() {
            let power = match k {
                0 => String::new(),
                1 => var.to_string(),
                k => format!("{var}^{k}"),
            };
            terms.push(format!("{c:.4e}{}{power}", if k > 0 { " " } else { "" }));
        }
        terms.join(" + ")
    }
}

/// The least-squares polynomial of `degree` through `(x, y)` points (normal equations,
/// solved by Gaussian elimination with partial pivoting); `None` with fewer points than
/// coefficients or a singular system.
pub fn fit_polynomial(points: &[(f64, f64)], degree: usize) -> Option<Fit> {
    let m = degree + 1;
    if points.len() < m {
        return None;
    }
    let mut a = vec![vec![0.0f64; m + 1]; m];
    for &(x, y) in points {
        let powers: Vec<f64> = (0..m).map(|k| x.powi(k as i32)).collect();
        for i in 0..m {
            for j in 0..m {
                a[i][j] += powers[i] * powers[j];
            }
            a[i][m] += powers[i] * y;
        }
    }
    for col in 0..m {
        let pivot = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let coefficients: Vec<f64> = (0..m).map(|i| a[i][m] / a[i][i]).collect();
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let mut fit = Fit {
        coefficients,
        r_squared: 0.0,
    };
    let ss_res: f64 = points.iter().map(|&(x, y)| (y - fit.at(x)).powi(2)).sum();
    let ss_tot: f64 = points.iter().map(|&(_, y)| (y - mean).powi(2)).sum();
    fit.r_squared = 1.0 - ss_res / ss_tot;
    Some(fit)
}

/// What the scaling study measures of each run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// The largest mean entropy estimate (the paper fits a quadratic in n).
    MaxEntropy,
    /// The largest mean complexity estimate (a line in n).
    MaxComplexity,
    /// The step of the complexity peak (a quadratic in n).
    TimeOfMax,
}

impl Quantity {
    /// Every quantity, in the paper's order (Figs. 6, 7, 8).
    pub const ALL: [Quantity; 3] = [Self::MaxEntropy, Self::MaxComplexity, Self::TimeOfMax];

    /// The degree of the polynomial the paper fits.
    pub fn degree(self) -> usize {
        match self {
            Self::MaxComplexity => 1,
            _ => 2,
        }
    }

    /// The column name in `scaling.csv`.
    pub fn key(self) -> &'static str {
        match self {
            Self::MaxEntropy => "max_entropy",
            Self::MaxComplexity => "max_complexity",
            Self::TimeOfMax => "time_of_max_complexity",
        }
    }

    /// A label for axes.
    pub fn label(self) -> &'static str {
        match self {
            Self::MaxEntropy => "maximum entropy (bytes)",
            Self::MaxComplexity => "maximum complexity (bytes)",
            Self::TimeOfMax => "time of the complexity peak",
        }
    }

    /// The quantity of one run.
    pub fn of(self, run: &Extremes) -> f64 {
        match self {
            Self::MaxEntropy => run.max_entropy,
            Self::MaxComplexity => run.max_complexity,
            Self::TimeOfMax => run.time_of_max as f64,
        }
    }
}

/// The extremes of one run's curves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extremes {
    /// The model run.
    pub model: crate::coffee::Model,
    /// Cells per side.
    pub n: usize,
    /// Largest mean entropy.
    pub max_entropy: f64,
    /// Largest mean complexity.
    pub max_complexity: f64,
    /// The step where the mean complexity peaks.
    pub time_of_max: u64,
}

impl Extremes {
    /// The extremes of `curves`, a run of `model` on an `n × n` grid.
    pub fn of(model: crate::coffee::Model, n: usize, curves: &[crate::coffee::Curve]) -> Self {
        let peak = curves
            .iter()
            .max_by(|a, b| a.complexity.mean.total_cmp(&b.complexity.mean));
        Self {
            model,
            n,
            max_entropy: curves.iter().map(|c| c.entropy.mean).fold(0.0, f64::max),
            max_complexity: peak.map_or(0.0, |c| c.complexity.mean),
            time_of_max: peak.map_or(0, |c| c.step),
        }
    }
}

/// The points `(n, quantity)` of `model`'s runs and the paper's polynomial through them
/// (`None` with too few sizes).
pub fn scaling_fit(
    runs: &[Extremes],
    model: crate::coffee::Model,
    quantity: Quantity,
) -> (Vec<(f64, f64)>, Option<Fit>) {
    let points: Vec<(f64, f64)> = runs
        .iter()
        .filter(|r| r.model == model)
        .map(|r| (r.n as f64, quantity.of(r)))
        .collect();
    let fit = fit_polynomial(&points, quantity.degree());
    (points, fit)
}
