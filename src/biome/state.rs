//! A world on the host: the type, state and program-id grids, cell types, and the initial
//! layouts the reference builds.

use crate::biome::config::{BiomeConfig, Layout};
use crate::error::{Error, Result};

/// Cell type ids, as the reference numbers them.
pub mod kind {
    /// Nothing: left behind by dead agents and reproducing flowers; AIR fills it.
    pub const VOID: u32 = 0;
    /// Air: carries air nutrient, diffusing from SUN.
    pub const AIR: u32 = 1;
    /// Earth: carries earth nutrient, diffusing from IMMOVABLE; falls and slides.
    pub const EARTH: u32 = 2;
    /// Bedrock: the source of earth nutrient and of structural integrity.
    pub const IMMOVABLE: u32 = 3;
    /// The source of air nutrient.
    pub const SUN: u32 = 4;
    /// What perception reads outside the grid; never stored in a world.
    pub const OUT_OF_BOUNDS: u32 = 5;
    /// A fresh agent cell.
    pub const UNSPECIALIZED: u32 = 6;
    /// An agent that absorbs earth nutrient.
    pub const ROOT: u32 = 7;
    /// An agent that absorbs air nutrient.
    pub const LEAF: u32 = 8;
    /// An agent that reproduces.
    pub const FLOWER: u32 = 9;
    /// Number of type ids.
    pub const COUNT: usize = 10;

    /// Names by id, for reports.
    pub const NAMES: [&str; COUNT] = [
        "void",
        "air",
        "earth",
        "immovable",
        "sun",
        "out_of_bounds",
        "unspecialized",
        "root",
        "leaf",
        "flower",
    ];

    /// Whether `t` is an agent type.
    pub fn is_agent(t: u32) -> bool {
        (UNSPECIALIZED..=FLOWER).contains(&t)
    }

    /// Whether things fall through `t`.
    pub fn is_intangible(t: u32) -> bool {
        t == VOID || t == AIR
    }
}

/// State channel indices.
pub mod channel {
    /// Structural integrity.
    pub const INTEGRITY: usize = 0;
    /// Age in steps.
    pub const AGE: usize = 1;
    /// Earth nutrient.
    pub const EARTH_NUTRIENT: usize = 2;
    /// Air nutrient.
    pub const AIR_NUTRIENT: usize = 3;
    /// First agent internal-state channel.
    pub const AGENT_STATE: usize = 4;
}

/// Share of the material cap that EARTH and AIR start with.
const INITIAL_NUTRIENT_SHARE: f64 = 0.2;

/// An `height × width` world on the host, row 0 at the top, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldState {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Float channels per cell (4 + agent state size).
    pub channels: usize,
    /// Type id per cell.
    pub types: Vec<u32>,
    /// `channels` floats per cell.
    pub state: Vec<f32>,
    /// Program slot per cell (meaningful on agents, 0 elsewhere).
    pub ids: Vec<u32>,
}

impl WorldState {
    /// A world of AIR with zero state.
    pub fn air(height: usize, width: usize, channels: usize) -> Self {
        let cells = height * width;
        Self {
            height,
            width,
            channels,
            types: vec![kind::AIR; cells],
            state: vec![0.0; cells * channels],
            ids: vec![0; cells],
        }
    }

    /// The initial world of `config`: its layout with one seed at the centre column.
    pub fn initial(config: &BiomeConfig) -> Result<Self> {
        config.validate()?;
        let (h, w) = (config.height as usize, config.columns() as usize);
        let mut world = Self::air(h, w, config.state_channels());
        for c in 0..w {
            world.set_type(0, c, kind::SUN);
            world.set_type(h - 1, c, kind::IMMOVABLE);
        }
        // The first earth row is floor(h/2): the reference slices from (-h)//2.
        for r in h / 2..h - 1 {
            for c in 0..w {
                world.set_type(r, c, kind::EARTH);
            }
        }
        world.fill_material_nutrients(config);
        world.place_seed(w / 2, None, 0, config.seed_nutrients())?;
        if config.layout == Layout::Sideways {
            for c in 0..w {
                world.set_type(0, c, kind::AIR);
                world.set_type(h - 1, c, kind::EARTH);
            }
            for wi in 0..10 {
                let span = 20 - 2 * wi;
                for c in 0..span {
                    world.set_type(wi, c, kind::SUN);
                    world.set_type(h - 1 - wi, w - span + c, kind::IMMOVABLE);
                }
            }
            world.fill_material_nutrients(config);
        }
        Ok(world)
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.height * self.width
    }

    /// Flat index of (row, col).
    pub fn index(&self, row: usize, col: usize) -> usize {
        row * self.width + col
    }

    /// Type at (row, col).
    pub fn type_at(&self, row: usize, col: usize) -> u32 {
        self.types[self.index(row, col)]
    }

    /// The state channels of (row, col).
    pub fn state_at(&self, row: usize, col: usize) -> &[f32] {
        let i = self.index(row, col) * self.channels;
        &self.state[i..i + self.channels]
    }

    /// The state channels of (row, col), mutable.
    pub fn state_at_mut(&mut self, row: usize, col: usize) -> &mut [f32] {
        let i = self.index(row, col) * self.channels;
        &mut self.state[i..i + self.channels]
    }

    fn set_type(&mut self, row: usize, col: usize, t: u32) {
        let i = self.index(row, col);
        self.types[i] = t;
    }

    /// Sets EARTH's earth nutrient and AIR's air nutrient to 20% of the material cap; the
    /// other channel of each is left as it is.
    fn fill_material_nutrients(&mut self, config: &BiomeConfig) {
        for i in 0..self.cells() {
            let ch = match self.types[i] {
                kind::EARTH => channel::EARTH_NUTRIENT,
                kind::AIR => channel::AIR_NUTRIENT,
                _ => continue,
            };
            let cap = config.material_nutrient_cap[ch - channel::EARTH_NUTRIENT];
            self.state[i * self.channels + ch] = (INITIAL_NUTRIENT_SHARE * cap) as f32;
        }
    }

    /// The topmost row `r` of column `col` with AIR at `r` over EARTH at `r + 1`.
    pub fn fertile_row(&self, col: usize) -> Option<usize> {
        (0..self.height - 1)
            .find(|&r| self.type_at(r, col) == kind::AIR && self.type_at(r + 1, col) == kind::EARTH)
    }

    /// Places a seed: two UNSPECIALIZED cells at rows `row` and `row + 1` of `col` (by
    /// default the column's fertile spot) with program `id`, zero state and `nutrients`
    /// in both nutrient channels.
    pub fn place_seed(
        &mut self,
        col: usize,
        row: Option<usize>,
        id: u32,
        nutrients: [f64; 2],
    ) -> Result<()> {
        if col >= self.width {
            return Err(Error::invalid(format!(
                "seed column {col} is outside a world {} columns wide",
                self.width
            )));
        }
        let row = match row {
            Some(r) if r + 1 < self.height => r,
            Some(r) => {
                return Err(Error::invalid(format!(
                    "seed rows {r} and {} do not both fit in {} rows",
                    r + 1,
                    self.height
                )))
            }
            None => self.fertile_row(col).ok_or_else(|| {
                Error::invalid(format!(
                    "column {col} has no AIR cell over EARTH to place a seed on"
                ))
            })?,
        };
        for r in [row, row + 1] {
            let i = self.index(r, col);
            self.types[i] = kind::UNSPECIALIZED;
            self.ids[i] = id;
            let state = self.state_at_mut(r, col);
            state.fill(0.0);
            state[channel::EARTH_NUTRIENT] = nutrients[0] as f32;
            state[channel::AIR_NUTRIENT] = nutrients[1] as f32;
        }
        Ok(())
    }

    /// Checks shapes and contents: consistent lengths, known type ids (never
    /// OUT_OF_BOUNDS), finite state.
    pub fn validate(&self) -> Result<()> {
        let cells = self.cells();
        if self.height < 1 || self.width < 1 {
            return Err(Error::invalid(
                "a world needs at least one row and one column",
            ));
        }
        if self.types.len() != cells
            || self.ids.len() != cells
            || self.state.len() != cells * self.channels
        {
            return Err(Error::invalid(format!(
                "a {}x{} world with {} channels needs {cells} types, {cells} ids and {} \
                 state values; got {}, {} and {}",
                self.height,
                self.width,
                self.channels,
                cells * self.channels,
                self.types.len(),
                self.ids.len(),
                self.state.len()
            )));
        }
        if self.channels < channel::AGENT_STATE {
            return Err(Error::invalid(format!(
                "a world needs at least 4 state channels, got {}",
                self.channels
            )));
        }
        if let Some(i) = self
            .types
            .iter()
            .position(|&t| t as usize >= kind::COUNT || t == kind::OUT_OF_BOUNDS)
        {
            return Err(Error::invalid(format!(
                "cell ({}, {}) has type {}, which is not a cell type (0-4 materials, 6-9 \
                 agents)",
                i / self.width,
                i % self.width,
                self.types[i]
            )));
        }
        if let Some(i) = self.state.iter().position(|v| !v.is_finite()) {
            let cell = i / self.channels;
            return Err(Error::invalid(format!(
                "cell ({}, {}) has a non-finite value in state channel {}",
                cell / self.width,
                cell % self.width,
                i % self.channels
            )));
        }
        Ok(())
    }

    /// Number of cells of each type.
    pub fn census(&self) -> [u64; kind::COUNT] {
        let mut counts = [0; kind::COUNT];
        for &t in &self.types {
            counts[(t as usize).min(kind::COUNT - 1)] += 1;
        }
        counts
    }
}
