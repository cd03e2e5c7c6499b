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
