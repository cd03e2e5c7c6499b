//! What a coffee run is: the model, the grid, the coarse-graining, and the reference
//! run lengths of the paper's code.

/// The two automata of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    /// One swap of two differing neighbours per step (the symmetric exclusion process's
    /// jump chain): the paper's main model.
    Interacting,
    /// Every cream particle moves one cell in a random direction per step (the control).
    NonInteracting,
}

impl Model {
    /// `interacting` or `noninteracting` (also `non-interacting`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "interacting" => Some(Self::Interacting),
            "noninteracting" | "non-interacting" => Some(Self::NonInteracting),
            _ => None,
        }
    }

    /// The name [`Model::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interacting => "interacting",
            Self::NonInteracting => "noninteracting",
        }
    }
}

/// What happens at the grid's edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Boundary {
    /// A closed box: nothing crosses the edges (the paper's simulations).
    Closed,
    /// A torus (the paper's appendix proof).
    Periodic,
}

impl Boundary {
    /// `closed` or `periodic`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "closed" => Some(Self::Closed),
            "periodic" => Some(Self::Periodic),
            _ => None,
        }
    }

    /// The name [`Boundary::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Periodic => "periodic",
        }
    }
}

/// How the 7-bucket state is adjusted before its size is measured (section 6 of the
/// paper).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Adjust {
    /// The authors' code: a row whose values span at most one bucket takes its most
    /// frequent value everywhere (ties: the value seen first from the left).
    Rowwise,
    /// The paper's words: a cell within one bucket of its row's most frequent value takes
    /// that value.
    Cellwise,
}

impl Adjust {
    /// `rowwise` or `cellwise`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "rowwise" => Some(Self::Rowwise),
            "cellwise" => Some(Self::Cellwise),
            _ => None,
        }
    }

    /// The name [`Adjust::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rowwise => "rowwise",
            Self::Cellwise => "cellwise",
        }
    }
}

/// The grain size the paper uses for an `n × n` grid: `round(√n)`, minus one when even
/// (9 for n = 100, 7 for n = 50).
pub fn default_grain(n: usize) -> usize {
    let g = (n as f64).sqrt().round() as usize;
    if g.is_multiple_of(2) {
        g.saturating_sub(1).max(1)
    } else {
        g
    }
}

/// A coffee automaton: `replicas` independent `size × size` grids of one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoffeeConfig {
    /// Which automaton.
    pub model: Model,
    /// Cells per side (even, at least 4).
    pub size: usize,
    /// Independent copies run side by side (each its own random stream).
    pub replicas: usize,
    /// Side of the coarse-graining window (odd; `None`: [`default_grain`]).
    pub grain: Option<usize>,
    /// The adjustment of the 7-bucket state.
    pub adjust: Adjust,
    /// Closed box or torus.
    pub boundary: Boundary,
}

impl Default for CoffeeConfig {
    fn default() -> Self {
        Self {
            model: Model::Interacting,
            size: 100,
            replicas: 1,
            grain: None,
            adjust: Adjust::Rowwise,
            boundary: Boundary::Closed,
        }
    }
}

impl CoffeeConfig {
    /// Sets the model.
    pub fn model(mut self, model: Model) -> Self {
        self.model = model;
        self
    }

    /// Sets the cells per side.
    pub fn size(mut self, n: usize) -> Self {
        self.size = n;
        self
    }

    /// Sets the number of replicas.
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// Sets the grain size.
    pub fn grain(mut self, g: usize) -> Self {
        self.grain = Some(g);
        self
    }

    /// Sets the adjustment.
    pub fn adjust(mut self, adjust: Adjust) -> Self {
        self.adjust = adjust;
        self
    }

    /// Sets the boundary.
    pub fn boundary(mut self, boundary: Boundary) -> Self {
        self.boundary = boundary;
        self
    }

    /// The grain size in use.
    pub fn grain_size(&self) -> usize {
        self.grain.unwrap_or_else(|| default_grain(self.size))
    }

    /// The bucket of the largest cell value before the 7-bucket threshold: 1 for the
    /// interacting model; for the non-interacting model the authors' code uses
    /// `floor(√g)` (3 for g = 9).
    pub fn max_value(&self) -> u32 {
        match self.model {
            Model::Interacting => 1,
            Model::NonInteracting => ((self.grain_size() as f64).sqrt().floor() as u32).max(1),
        }
    }

    /// Cream cells (interacting) or particles (non-interacting): half the grid.
    pub fn cream(&self) -> usize {
        self.size * self.size / 2
    }

    /// Checks the configuration; the message says what is wrong and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.size;
        if n < 4 || !n.is_multiple_of(2) {
            return Err(format!(
                "size {n}: the grid needs an even number of cells per side, at least 4 \
                 (half cream, half coffee)"
            ));
        }
        if n > 4096 {
            return Err(format!(
                "size {n}: at most 4096 cells per side (cell counts are kept in 32 bits)"
            ));
        }
        if self.replicas == 0 {
            return Err("replicas must be at least 1".into());
        }
        let g = self.grain_size();
        if g == 0 || g.is_multiple_of(2) {
            return Err(format!(
                "grain {g}: the coarse-graining window is centred on its cell, so its side \
                 must be odd"
            ));
        }
        if g > n {
            return Err(format!(
                "grain {g} is larger than the grid ({n} cells per side)"
            ));
        }
        // The 7-bucket test compares 6 x window sum with 6 x cells x max value in 32 bits.
        if 6 * (g as u64).pow(2) * u64::from(self.max_value()) > u64::from(u32::MAX) {
            return Err(format!(
                "grain {g} is too large for the 32-bit window arithmetic of the 7 buckets; \
                 use a grain below {}",
                ((u64::from(u32::MAX) / (6 * u64::from(self.max_value()))) as f64).sqrt() as u64
            ));
        }
        Ok(())
    }
}

/// When a run takes its samples: `interval` steps apart from step 0, the last at or
/// before `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Steps between samples (at least 1).
    pub interval: u64,
    /// The run stops at the last sample at or before this step.
    pub end: u64,
}

impl Schedule {
    /// At most `samples` samples (at least 2) spread evenly over `steps` steps: the
    /// first at step 0, the last at `steps` or just before it (exactly `samples` when
    /// `samples - 1` divides `steps`).
    pub fn spread(steps: u64, samples: usize) -> Self {
        let gaps = (samples.max(2) - 1) as u64;
        Self {
            interval: steps.div_ceil(gaps).max(1),
            end: steps,
        }
    }

    /// The authors' run length for `model` on an `n × n` grid, in steps (swaps for the
    /// interacting model): their fitted convergence time `esttime`, run to four times it
    /// and sampled every `esttime / 400` (integer division; every step when that is 0).
    /// For n = 100, interacting: esttime 10,619,000 swaps, samples every 26,547 swaps,
    /// 1,601 samples.
    pub fn reference(model: Model, n: usize) -> Self {
        let n = n as i64;
        let esttime = match model {
            Model::Interacting if n < 30 => 25_000,
            Model::Interacting => 2495 * n * n - 173_600 * n + 3_029_000,
            Model::NonInteracting => n * n / 4 * 2,
        }
        .max(1) as u64;
        Self {
            interval: (esttime / 400).max(1),
            end: 4 * esttime,
        }
    }

    /// The schedule of a run of `model` on an `n × n` grid as a user asks for it: without
    /// `steps`, the authors' run length, spread over `samples` samples when given (else
    /// sampled at the authors' interval); with `steps`, at most `samples` samples (401
    /// when not given) spread over them. The message of an error names the argument.
    pub fn requested(
        model: Model,
        n: usize,
        steps: Option<u64>,
        samples: Option<usize>,
    ) -> Result<Self, String> {
        if samples.is_some_and(|k| k < 2) {
            return Err("samples: at least 2 (step 0 and the last step)".into());
        }
        let schedule = match (steps, samples) {
            (Some(0), _) => return Err("steps: at least 1".into()),
            (Some(steps), k) => Self::spread(steps, k.unwrap_or(401)),
            (None, Some(k)) => Self::spread(Self::reference(model, n).end, k),
            (None, None) => Self::reference(model, n),
        };
        if model == Model::NonInteracting && schedule.end > u64::from(u32::MAX) {
            return Err(format!(
                "steps {}: the non-interacting model runs at most {} steps",
                schedule.end,
                u32::MAX
            ));
        }
        Ok(schedule)
    }

    /// The sample times: `0, interval, 2·interval, …` up to `end`.
    pub fn times(&self) -> impl Iterator<Item = u64> + '_ {
        let last = self.end / self.interval;
        (0..=last).map(move |k| k * self.interval)
    }

    /// How many samples the run takes.
    pub fn len(&self) -> usize {
        (self.end / self.interval + 1) as usize
    }

    /// Whether the schedule takes no samples (never: step 0 is always one).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The step of the last sample.
    pub fn last(&self) -> u64 {
        self.end / self.interval * self.interval
    }
}
