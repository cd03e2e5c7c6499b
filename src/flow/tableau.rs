//! Butcher tableaus of the integrators, shared by the GPU kernel (uploaded as data) and
//! the CPU reference.

use serde::{Deserialize, Serialize};

/// An explicit Runge–Kutta method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    /// Forward Euler, order 1.
    Euler,
    /// Explicit midpoint, order 2.
    Midpoint,
    /// Heun's method (explicit trapezoid), order 2.
    Heun,
    /// The classic fourth-order method.
    Rk4,
    /// Dormand–Prince 5(4), adaptive.
    Dopri5,
    /// Tsitouras 5(4), adaptive.
    Tsit5,
}

impl Solver {
    /// Parses a solver name (`euler`, `midpoint`, `heun`, `rk4`, `dopri5`, `tsit5`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_lowercase().as_str() {
            "euler" => Some(Self::Euler),
            "midpoint" => Some(Self::Midpoint),
            "heun" => Some(Self::Heun),
            "rk4" => Some(Self::Rk4),
            "dopri5" => Some(Self::Dopri5),
            "tsit5" => Some(Self::Tsit5),
            _ => None,
        }
    }

    /// Whether the method carries an embedded error estimate (adaptive steps).
    pub fn is_adaptive(self) -> bool {
        matches!(self, Self::Dopri5 | Self::Tsit5)
    }

    /// Order of the solution.
    pub fn order(self) -> u32 {
        match self {
            Self::Euler => 1,
            Self::Midpoint | Self::Heun => 2,
            Self::Rk4 => 4,
            Self::Dopri5 | Self::Tsit5 => 5,
        }
    }

    /// The tableau.
    pub fn tableau(self) -> Tableau {
        match self {
            Self::Euler => Tableau::new(&[0.0], &[], &[1.0], None),
            Self::Midpoint => Tableau::new(&[0.0, 0.5], &[0.5], &[0.0, 1.0], None),
            Self::Heun => Tableau::new(&[0.0, 1.0], &[1.0], &[0.5, 0.5], None),
            Self::Rk4 => Tableau::new(
                &[0.0, 0.5, 0.5, 1.0],
                &[0.5, 0.0, 0.5, 0.0, 0.0, 1.0],
                &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
                None,
            ),
            Self::Dopri5 => {
                let b = [
                    35.0 / 384.0,
                    0.0,
                    500.0 / 1113.0,
                    125.0 / 192.0,
                    -2187.0 / 6784.0,
                    11.0 / 84.0,
                    0.0,
                ];
                let b4 = [
                    5179.0 / 57600.0,
                    0.0,
                    7571.0 / 16695.0,
                    393.0 / 640.0,
                    -92097.0 / 339200.0,
                    187.0 / 2100.0,
                    1.0 / 40.0,
                ];
                let err: Vec<f64> = b.iter().zip(&b4).map(|(x, y)| x - y).collect();
                Tableau::new(
                    &[0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0],
                    &[
                        0.2,
                        3.0 / 40.0,
                        9.0 / 40.0,
                        44.0 / 45.0,
                        -56.0 / 15.0,
                        32.0 / 9.0,
                        19372.0 / 6561.0,
                        -25360.0 / 2187.0,
                        64448.0 / 6561.0,
                        -212.0 / 729.0,
                        9017.0 / 3168.0,
                        -355.0 / 33.0,
                        46732.0 / 5247.0,
                        49.0 / 176.0,
                        -5103.0 / 18656.0,
                        35.0 / 384.0,
                        0.0,
                        500.0 / 1113.0,
                        125.0 / 192.0,
                        -2187.0 / 6784.0,
                        11.0 / 84.0,
                    ],
                    &b,
                    Some(&err),
                )
            }
            Self::Tsit5 => Tableau::new(
                &[0.0, 0.161, 0.327, 0.9, 0.980_025_540_904_509_7, 1.0, 1.0],
                &[
                    0.161,
                    -0.008_480_655_492_356_989,
                    0.335_480_655_492_357,
                    2.897_153_057_105_493_5,
                    -6.359_448_489_975_075,
                    4.362_295_432_869_581_5,
                    5.325_864_828_439_257,
                    -11.748_883_564_062_828,
                    7.495_539_342_889_836_5,
                    -0.092_495_066_361_755_25,
                    5.861_455_442_946_42,
                    -12.920_969_317_847_11,
                    8.159_367_898_576_159,
                    -0.071_584_973_281_401,
                    -0.028_269_050_394_068_383,
                    0.096_460_766_818_065_23,
                    0.01,
                    0.479_889_650_414_499_6,
                    1.379_008_574_103_742,
                    -3.290_069_515_436_081,
                    2.324_710_524_099_774,
                ],
                &[
                    0.096_460_766_818_065_23,
                    0.01,
                    0.479_889_650_414_499_6,
                    1.379_008_574_103_742,
                    -3.290_069_515_436_081,
                    2.324_710_524_099_774,
                    0.0,
                ],
                // b − b̂ (Tsitouras 2011, as OrdinaryDiffEq.jl's btilde).
                Some(&[
                    -0.001_780_011_052_225_777,
                    -0.000_816_434_459_656_746_9,
                    0.007_880_878_010_261_995,
                    -0.144_711_007_173_262_9,
                    0.582_357_165_452_555_2,
                    -0.458_082_105_929_186_97,
                    1.0 / 66.0,
                ]),
            ),
        }
    }
}

/// Stage times c, the strictly lower triangle of a (row by row), weights b, and the
/// error weights b − b̂ of an embedded pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Tableau {
    /// Stage times.
    pub c: Vec<f64>,
    /// a_ij for i > j, row by row (stage 1 has none).
    pub a: Vec<f64>,
    /// Solution weights.
    pub b: Vec<f64>,
    /// Error-estimate weights b − b̂ (adaptive methods).
    pub error: Option<Vec<f64>>,
}

impl Tableau {
    fn new(c: &[f64], a: &[f64], b: &[f64], error: Option<&[f64]>) -> Self {
        Self {
            c: c.to_vec(),
            a: a.to_vec(),
            b: b.to_vec(),
            error: error.map(<[f64]>::to_vec),
        }
    }

    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.c.len()
    }

    /// a_ij for j < i.
    pub fn a(&self, i: usize, j: usize) -> f64 {
        self.a[i * (i - 1) / 2 + j]
    }

    /// Whether the last stage is evaluated at the new solution (first same as last), so
    /// the next step's first stage is free.
    pub fn fsal(&self) -> bool {
        let s = self.stages();
        s > 1
            && (0..s - 1).all(|j| (self.a(s - 1, j) - self.b[j]).abs() < 1e-15)
            && self.b[s - 1] == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One fixed step of y' = f(t, y) on a scalar problem, with the given weights.
    fn step(
        t: &Tableau,
        weights: &[f64],
        f: impl Fn(f64, f64) -> f64,
        t0: f64,
        y: f64,
        h: f64,
    ) -> f64 {
        let mut k = Vec::new();
        for i in 0..t.stages() {
            let yi = y + h * (0..i).map(|j| t.a(i, j) * k[j]).sum::<f64>();
            k.push(f(t0 + t.c[i] * h, yi));
        }
        y + h * weights.iter().zip(&k).map(|(w, k)| w * k).sum::<f64>()
    }

    /// Order from the local error of one step: O(h^(p+1)), so halving h divides it by
    /// 2^(p+1). (Global errors of embedded pairs can cancel irregularly.)
    fn observed_order(t: &Tableau, weights: &[f64]) -> f64 {
        // y' = y cos t: y(t) = y(t0) exp(sin t − sin t0).
        let f = |t: f64, y: f64| y * t.cos();
        let t0 = 0.3;
        let error =
            |h: f64| (step(t, weights, f, t0, 1.0, h) - ((t0 + h).sin() - t0.sin()).exp()).abs();
        (error(0.1) / error(0.05)).log2() - 1.0
    }

    #[test]
    fn every_method_has_its_order() {
        for solver in [
            Solver::Euler,
            Solver::Midpoint,
            Solver::Heun,
            Solver::Rk4,
            Solver::Dopri5,
            Solver::Tsit5,
        ] {
            let t = solver.tableau();
            assert!(
                (t.b.iter().sum::<f64>() - 1.0).abs() < 1e-14,
                "{solver:?}: weights sum to 1"
            );
            for i in 1..t.stages() {
                let row: f64 = (0..i).map(|j| t.a(i, j)).sum();
                assert!(
                    (row - t.c[i]).abs() < 1e-13,
                    "{solver:?}: row {i} sums to c"
                );
            }
            let p = observed_order(&t, &t.b);
            assert!(
                (p - f64::from(solver.order())).abs() < 0.35,
                "{solver:?}: order {p}"
            );
            if let Some(err) = &t.error {
                // The embedded solution b − (b − b̂) is one order lower.
                let embedded: Vec<f64> = t.b.iter().zip(err).map(|(b, e)| b - e).collect();
                let q = observed_order(&t, &embedded);
                assert!(
                    (q - f64::from(solver.order() - 1)).abs() < 0.35,
                    "{solver:?}: embedded order {q}"
                );
                assert!(t.fsal(), "{solver:?} is FSAL");
            }
        }
    }
}
