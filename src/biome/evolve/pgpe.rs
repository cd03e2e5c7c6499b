//! PGPE (policy gradients with parameter-based exploration, Sehnke et al. 2010) as the
//! reference's evolution notebooks run it through evojax: antithetic pairs around a
//! centre, fitness turned into centred ranks, the centre moved by Adam, the per-parameter
//! stdev moved by plain gradient steps clipped to a relative change.
//!
//! Two details follow evojax exactly: Adam's bias correction is indexed by
//! `generation / 1000` (evojax passes its learning-rate decay step, so within the first
//! thousand generations the correction stays at its first value), and ties in fitness
//! rank by position. The noise is Philox normals keyed by seed and generation, so a run
//! resumed from a checkpoint draws what the uninterrupted run draws.

/// PGPE's settings (evojax's names; the defaults are the notebooks').
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PgpeConfig {
    /// Candidates per generation (even: antithetic pairs).
    pub population: usize,
    /// Adam's step size for the centre.
    pub center_learning_rate: f64,
    /// Step size for the stdev.
    pub stdev_learning_rate: f64,
    /// The stdev every parameter starts with.
    pub init_stdev: f64,
    /// Largest relative change of a stdev per generation.
    pub stdev_max_change: f64,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// Adam's epsilon.
    pub epsilon: f64,
}

impl Default for PgpeConfig {
    fn default() -> Self {
        Self {
            population: 64,
            center_learning_rate: 0.001,
            stdev_learning_rate: 0.001,
            init_stdev: 0.001,
            stdev_max_change: 0.002,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

impl PgpeConfig {
    /// Checks the settings; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.population < 2 || !self.population.is_multiple_of(2) {
            return Err(format!(
                "population {}: PGPE samples antithetic pairs, so it needs an even number, \
                 at least 2",
                self.population
            ));
        }
        for (name, v) in [
            ("center learning rate", self.center_learning_rate),
            ("stdev learning rate", self.stdev_learning_rate),
            ("initial stdev", self.init_stdev),
            ("stdev max change", self.stdev_max_change),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} {v} must be finite and non-negative"));
            }
        }
        if self.init_stdev == 0.0 {
            return Err("the initial stdev must be positive".into());
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(format!("Adam's {name} {b} must lie in [0, 1)"));
            }
        }
        if !self.epsilon.is_finite() || self.epsilon <= 0.0 {
            return Err(format!(
                "Adam's epsilon {} must be finite and positive",
                self.epsilon
            ));
        }
        Ok(())
    }
}

/// The search distribution and the optimiser's state: everything a checkpoint holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Pgpe {
    /// Settings.
    pub config: PgpeConfig,
    /// The seed of the noise.
    pub seed: u64,
    /// Generations told so far.
    pub generation: u64,
    /// The distribution's mean: the evolved program.
    pub center: Vec<f64>,
    /// Per-parameter stdev.
    pub stdev: Vec<f64>,
    /// Adam's first moment.
    pub m: Vec<f64>,
    /// Adam's second moment.
    pub v: Vec<f64>,
}

/// Stream word of PGPE's noise in the Philox counter.
const STREAM_PGPE: u32 = 0x9_6E;

impl Pgpe {
    /// A search starting at `center`.
    pub fn new(config: PgpeConfig, center: Vec<f64>, seed: u64) -> Result<Self, String> {
        config.validate()?;
        let n = center.len();
        Ok(Self {
            config,
            seed,
            generation: 0,
            stdev: vec![config.init_stdev; n],
            m: vec![0.0; n],
            v: vec![0.0; n],
            center,
        })
    }

    /// This generation's noise: `population / 2` directions, each scaled by the stdev.
    fn noise(&self) -> Vec<Vec<f64>> {
        let key = crate::rng::seed_key(self.seed);
        let n = self.center.len();
        (0..self.config.population / 2)
            .map(|d| {
                let mut out = Vec::with_capacity(n);
                for block in 0..n.div_ceil(4) {
                    let z = crate::rng::normal4(
                        key,
                        [block as u32, d as u32, self.generation as u32, STREAM_PGPE],
                    );
                    for v in z {
                        if out.len() < n {
                            out.push(v);
                        }
                    }
                }
                out.iter_mut().zip(&self.stdev).for_each(|(z, s)| *z *= s);
                out
            })
            .collect()
    }

    /// The candidates of this generation, in antithetic pairs: candidate `2i` is the
    /// centre plus direction `i`, candidate `2i + 1` the centre minus it.
    pub fn ask(&self) -> Vec<Vec<f64>> {
        self.noise()
            .iter()
            .flat_map(|e| {
                let plus = self.center.iter().zip(e).map(|(c, z)| c + z).collect();
                let minus = self.center.iter().zip(e).map(|(c, z)| c - z).collect();
                [plus, minus]
            })
            .collect()
    }

    /// Updates the distribution from the fitness of [`Pgpe::ask`]'s candidates (higher is
    /// better) and moves to the next generation.
    pub fn tell(&mut self, fitness: &[f64]) -> Result<(), String> {
        let p = self.config.population;
        if fitness.len() != p {
            return Err(format!(
                "{} fitness values for a population of {p}",
                fitness.len()
            ));
        }
        if let Some(bad) = fitness.iter().find(|f| !f.is_finite()) {
            return Err(format!("fitness {bad} is not finite"));
        }
        let noise = self.noise();
        let scores = centred_ranks(fitness);
        let baseline = scores.iter().sum::<f64>() / p as f64;
        let n = self.center.len();
        let k = noise.len() as f64;
        let mut grad_center = vec![0.0; n];
        let mut grad_stdev = vec![0.0; n];
        for (i, e) in noise.iter().enumerate() {
            let (plus, minus) = (scores[2 * i], scores[2 * i + 1]);
            let diff = plus - minus;
            let avg = (plus + minus) / 2.0;
            for j in 0..n {
                grad_center[j] += e[j] * diff * 0.5 / k;
                let s = self.stdev[j];
                grad_stdev[j] += (avg - baseline) * (e[j] * e[j] - s * s) / s / k;
            }
        }
        // Adam on the negated gradient (ascent), bias correction indexed as evojax does.
        let c = &self.config;
        let i = (self.generation / 1000) as i32;
        let (b1, b2) = (c.beta1, c.beta2);
        for j in 0..n {
            let g = -grad_center[j];
            self.m[j] = (1.0 - b1) * g + b1 * self.m[j];
            self.v[j] = (1.0 - b2) * g * g + b2 * self.v[j];
            let mhat = self.m[j] / (1.0 - b1.powi(i + 1));
            let vhat = self.v[j] / (1.0 - b2.powi(i + 1));
            self.center[j] -= c.center_learning_rate * mhat / (vhat.sqrt() + c.epsilon);
            let s = self.stdev[j];
            let allowed = s.abs() * c.stdev_max_change;
            self.stdev[j] =
                (s + c.stdev_learning_rate * grad_stdev[j]).clamp(s - allowed, s + allowed);
        }
        self.generation += 1;
        Ok(())
    }
}

/// Fitness as centred ranks in [-0.5, 0.5] (the worst -0.5, the best 0.5), ties ranked
/// by position.
pub fn centred_ranks(fitness: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..fitness.len()).collect();
    order.sort_by(|&a, &b| fitness[a].total_cmp(&fitness[b]).then(a.cmp(&b)));
    let top = (fitness.len().max(2) - 1) as f64;
    let mut ranks = vec![0.0; fitness.len()];
    for (rank, &i) in order.iter().enumerate() {
        ranks[i] = rank as f64 / top - 0.5;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_centred_and_ties_keep_their_order() {
        assert_eq!(centred_ranks(&[3.0, 1.0, 2.0]), vec![0.5, -0.5, 0.0]);
        assert_eq!(centred_ranks(&[1.0, 1.0]), vec![-0.5, 0.5]);
    }

    #[test]
    fn candidates_come_in_antithetic_pairs_and_resume_by_generation() {
        let config = PgpeConfig {
            population: 6,
            init_stdev: 0.5,
            ..PgpeConfig::default()
        };
        let mut a = Pgpe::new(config, vec![1.0, -2.0, 0.5, 3.0, 0.0], 9).unwrap();
        let pop = a.ask();
        assert_eq!(pop.len(), 6);
        for pair in pop.chunks(2) {
            for ((p, m), c) in pair[0].iter().zip(&pair[1]).zip(&a.center) {
                assert!((p + m - 2.0 * c).abs() < 1e-12);
            }
        }
        assert_ne!(pop[0], pop[2], "directions differ");
        let b = a.clone();
        a.tell(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let mut c = b.clone();
        c.tell(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(a, c, "the same generation draws the same noise");
        assert_ne!(a.ask(), b.ask(), "the next generation draws new noise");
    }

    #[test]
    fn the_first_adam_step_moves_each_parameter_by_the_learning_rate() {
        // With one direction, m = 0.1 g and v = 0.001 g²: the corrected step is lr·sign(g).
        let config = PgpeConfig {
            population: 2,
            center_learning_rate: 0.01,
            init_stdev: 0.1,
            ..PgpeConfig::default()
        };
        let mut pgpe = Pgpe::new(config, vec![0.0; 3], 4).unwrap();
        let pop = pgpe.ask();
        let e: Vec<f64> = pop[0].iter().map(|x| x - 0.0).collect();
        pgpe.tell(&[1.0, 0.0]).unwrap();
        for (c, e) in pgpe.center.iter().zip(&e) {
            assert!((c - 0.01 * e.signum()).abs() < 1e-6, "{c} {e}");
        }
    }

    #[test]
    fn it_climbs_a_quadratic() {
        let target = [0.3, -0.2, 0.5, 0.1, -0.4, 0.25, 0.0, -0.1];
        let config = PgpeConfig {
            population: 32,
            center_learning_rate: 0.02,
            stdev_learning_rate: 0.05,
            init_stdev: 0.1,
            stdev_max_change: 0.2,
            ..PgpeConfig::default()
        };
        let mut pgpe = Pgpe::new(config, vec![0.0; 8], 1).unwrap();
        let loss = |x: &[f64]| -> f64 { x.iter().zip(&target).map(|(a, b)| (a - b).powi(2)).sum() };
        let start = loss(&pgpe.center);
        for _ in 0..150 {
            let fitness: Vec<f64> = pgpe.ask().iter().map(|x| -loss(x)).collect();
            pgpe.tell(&fitness).unwrap();
        }
        let end = loss(&pgpe.center);
        assert!(end < 0.05 * start, "loss {start} -> {end}");
    }
}
