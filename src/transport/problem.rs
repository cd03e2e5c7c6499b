//! Transport problems: weighted point clouds and a cost, or a dense cost matrix.

use crate::error::{Error, Result};

/// n points in R^d stored row-major, with optional non-negative weights (uniform 1/n when
/// none are given).
#[derive(Clone, Debug, PartialEq)]
pub struct PointCloud {
    points: Vec<f32>,
    dim: usize,
    weights: Option<Vec<f32>>,
}

impl PointCloud {
    /// `points` holds n × `dim` coordinates, row-major. Coordinates must be finite.
    pub fn new(points: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::invalid("a point cloud needs dimension at least 1"));
        }
        if points.is_empty() {
            return Err(Error::invalid("a point cloud needs at least one point"));
        }
        if !points.len().is_multiple_of(dim) {
            return Err(Error::invalid(format!(
                "{} coordinates do not split into points of dimension {dim}",
                points.len()
            )));
        }
        if let Some(k) = points.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "point {} has a non-finite coordinate ({} at index {}); remove or fix it",
                k / dim,
                points[k],
                k % dim
            )));
        }
        Ok(Self {
            points,
            dim,
            weights: None,
        })
    }

    /// A cloud from rows of equal length.
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Self> {
        let dim = rows.first().map_or(0, Vec::len);
        if let Some(i) = rows.iter().position(|r| r.len() != dim) {
            return Err(Error::invalid(format!(
                "row {i} has {} coordinates but row 0 has {dim}",
                rows[i].len()
            )));
        }
        Self::new(rows.concat(), dim)
    }

    /// Sets the weights: one per point, finite, ≥ 0, with a positive total.
    pub fn with_weights(mut self, weights: Vec<f32>) -> Result<Self> {
        validate_weights(&weights, self.len(), "point")?;
        self.weights = Some(weights);
        Ok(self)
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len() / self.dim
    }

    /// Always false: a cloud has at least one point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All coordinates, row-major.
    pub fn points(&self) -> &[f32] {
        &self.points
    }

    /// Point `i`.
    pub fn point(&self, i: usize) -> &[f32] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }

    /// The weights (uniform 1/n when none were given).
    pub fn weights(&self) -> Vec<f32> {
        self.weights
            .clone()
            .unwrap_or_else(|| vec![1.0 / self.len() as f32; self.len()])
    }
}

pub(crate) fn validate_weights(weights: &[f32], n: usize, what: &str) -> Result<()> {
    if weights.len() != n {
        return Err(Error::invalid(format!(
            "{} weights given for {n} {what}s; give one weight per {what}",
            weights.len()
        )));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(Error::invalid(format!(
            "weight {i} is {}; weights must be finite",
            weights[i]
        )));
    }
    if let Some(i) = weights.iter().position(|&w| w < 0.0) {
        return Err(Error::invalid(format!(
            "weight {i} is {}; weights must be >= 0",
            weights[i]
        )));
    }
    if weights.iter().map(|&w| f64::from(w)).sum::<f64>() <= 0.0 {
        return Err(Error::invalid(
            "the weights sum to zero; at least one must be positive",
        ));
    }
    Ok(())
}

/// A ground cost between points, computed on the fly (no n × m matrix is stored).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cost {
    /// ‖x − y‖², as a sum of squared differences (no cancellation).
    SqEuclidean,
    /// ‖x − y‖.
    Euclidean,
    /// ‖x − y‖₁.
    L1,
    /// ½‖x − y‖² + γ‖x − y‖₁ ("Monge, Bregman and Occam": feature-sparse maps).
    Elastic {
        /// Weight γ ≥ 0 of the L1 term.
        gamma: f32,
    },
}

impl Cost {
    /// The cost between two points, in f64.
    pub fn eval(&self, x: &[f32], y: &[f32]) -> f64 {
        let diffs = x.iter().zip(y).map(|(&a, &b)| f64::from(a) - f64::from(b));
        match self {
            Self::SqEuclidean => diffs.map(|d| d * d).sum(),
            Self::Euclidean => diffs.map(|d| d * d).sum::<f64>().sqrt(),
            Self::L1 => diffs.map(f64::abs).sum(),
            Self::Elastic { gamma } => diffs
                .map(|d| 0.5 * d * d + f64::from(*gamma) * d.abs())
                .sum(),
        }
    }

    /// The shader define that selects this cost.
    pub(crate) fn define(&self) -> &'static str {
        match self {
            Self::SqEuclidean => "COST_SQEUCLID",
            Self::Euclidean => "COST_EUCLID",
            Self::L1 => "COST_L1",
            Self::Elastic { .. } => "COST_ELASTIC",
        }
    }

    pub(crate) fn gamma(&self) -> f32 {
        match self {
            Self::Elastic { gamma } => *gamma,
            _ => 0.0,
        }
    }

    /// Parses `sqeuclidean`, `euclidean`, `l1` or `elastic:GAMMA`.
    pub fn parse(text: &str) -> Result<Self> {
        let lower = text.trim().to_lowercase();
        match lower.as_str() {
            "sqeuclidean" | "sqeuclid" | "l2sq" => Ok(Self::SqEuclidean),
            "euclidean" | "l2" => Ok(Self::Euclidean),
            "l1" | "cityblock" => Ok(Self::L1),
            _ => match lower.strip_prefix("elastic:").map(str::parse::<f32>) {
                Some(Ok(gamma)) if gamma >= 0.0 && gamma.is_finite() => Ok(Self::Elastic { gamma }),
                _ => Err(Error::invalid(format!(
                    "unknown cost {text:?}: use sqeuclidean, euclidean, l1 or elastic:GAMMA with GAMMA >= 0"
                ))),
            },
        }
    }
}

/// What the cost is computed from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Geometry {
    /// Points on both sides and a cost function.
    Points {
        source: PointCloud,
        target: PointCloud,
        cost: Cost,
    },
    /// A dense n × m cost matrix, row-major.
    Matrix { cost: Vec<f32>, n: usize, m: usize },
}

/// One transport problem: source and target measures and the cost between them.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub(crate) geometry: Geometry,
    pub(crate) a: Vec<f32>,
    pub(crate) b: Vec<f32>,
}

impl Problem {
    /// Transport between two point clouds with the squared Euclidean cost.
    pub fn new(source: PointCloud, target: PointCloud) -> Result<Self> {
        Self::with_cost(source, target, Cost::SqEuclidean)
    }

    /// Transport between two point clouds with the given cost.
    pub fn with_cost(source: PointCloud, target: PointCloud, cost: Cost) -> Result<Self> {
        if source.dim() != target.dim() {
            return Err(Error::invalid(format!(
                "the source points have dimension {} but the target points {}; both clouds \
                 must live in the same space",
                source.dim(),
                target.dim()
            )));
        }
        if let Cost::Elastic { gamma } = cost {
            if !(gamma >= 0.0 && gamma.is_finite()) {
                return Err(Error::invalid(format!(
                    "elastic cost gamma = {gamma}: must be finite and >= 0"
                )));
            }
        }
        let (a, b) = (source.weights(), target.weights());
        Ok(Self {
            geometry: Geometry::Points {
                source,
                target,
                cost,
            },
            a,
            b,
        })
    }

    /// Transport with a dense n × m cost matrix (row-major) and uniform weights. Meant for
    /// small problems: the matrix is stored on the GPU.
    pub fn from_cost_matrix(cost: Vec<f32>, n: usize, m: usize) -> Result<Self> {
        if n == 0 || m == 0 {
            return Err(Error::invalid(
                "a cost matrix needs at least one row and one column",
            ));
        }
        if cost.len() != n * m {
            return Err(Error::invalid(format!(
                "a {n} x {m} cost matrix needs {} entries, got {}",
                n * m,
                cost.len()
            )));
        }
        if let Some(k) = cost.iter().position(|c| !c.is_finite()) {
            return Err(Error::invalid(format!(
                "cost entry ({}, {}) is {}; costs must be finite",
                k / m,
                k % m,
                cost[k]
            )));
        }
        Ok(Self {
            geometry: Geometry::Matrix { cost, n, m },
            a: vec![1.0 / n as f32; n],
            b: vec![1.0 / m as f32; m],
        })
    }

    /// Replaces the weights of both sides.
    pub fn with_weights(mut self, a: Vec<f32>, b: Vec<f32>) -> Result<Self> {
        validate_weights(&a, self.n(), "source point")?;
        validate_weights(&b, self.m(), "target point")?;
        self.a = a;
        self.b = b;
        Ok(self)
    }

    /// Number of source points.
    pub fn n(&self) -> usize {
        match &self.geometry {
            Geometry::Points { source, .. } => source.len(),
            Geometry::Matrix { n, .. } => *n,
        }
    }

    /// Number of target points.
    pub fn m(&self) -> usize {
        match &self.geometry {
            Geometry::Points { target, .. } => target.len(),
            Geometry::Matrix { m, .. } => *m,
        }
    }

    /// Point dimension (0 for a cost matrix).
    pub fn dim(&self) -> usize {
        match &self.geometry {
            Geometry::Points { source, .. } => source.dim(),
            Geometry::Matrix { .. } => 0,
        }
    }

    /// Source weights.
    pub fn a(&self) -> &[f32] {
        &self.a
    }

    /// Target weights.
    pub fn b(&self) -> &[f32] {
        &self.b
    }

    /// The cost C_ij in f64.
    pub fn cost(&self, i: usize, j: usize) -> f64 {
        match &self.geometry {
            Geometry::Points {
                source,
                target,
                cost,
            } => cost.eval(source.point(i), target.point(j)),
            Geometry::Matrix { cost, m, .. } => f64::from(cost[i * m + j]),
        }
    }

    /// The source and target clouds; `None` for a problem given as a matrix.
    pub fn clouds(&self) -> Option<(&PointCloud, &PointCloud)> {
        match &self.geometry {
            Geometry::Points { source, target, .. } => Some((source, target)),
            Geometry::Matrix { .. } => None,
        }
    }

    /// The cost function between the points; `None` for a problem given as a matrix.
    pub fn cost_kind(&self) -> Option<Cost> {
        match &self.geometry {
            Geometry::Points { cost, .. } => Some(*cost),
            Geometry::Matrix { .. } => None,
        }
    }

    /// The problem with source and target exchanged (cost transposed).
    pub fn transposed(&self) -> Self {
        let geometry = match &self.geometry {
            Geometry::Points {
                source,
                target,
                cost,
            } => Geometry::Points {
                source: target.clone(),
                target: source.clone(),
                cost: *cost,
            },
            Geometry::Matrix { cost, n, m } => Geometry::Matrix {
                cost: (0..*m)
                    .flat_map(|j| (0..*n).map(move |i| (i, j)))
                    .map(|(i, j)| cost[i * m + j])
                    .collect(),
                n: *m,
                m: *n,
            },
        };
        Self {
            geometry,
            a: self.b.clone(),
            b: self.a.clone(),
        }
    }
}
