//! The environment's configuration: every field of the reference's `EnvConfig`, the four
//! published presets, the world's size and initial layout, and TOML files.

use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::biome::program::AgentConfig;
use crate::error::{Error, Result};

/// How wide the world is: a number of columns, or a shape relative to the height.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WidthRepr", into = "WidthRepr")]
pub enum Width {
    /// Four times the height (the reference's default for its presets).
    Wide,
    /// `int(1.778 · h)`: 16:9.
    Landscape,
    /// As wide as high.
    Square,
    /// Half as wide as high (`h / 2`, rounded down).
    Petri,
    /// Exactly this many columns.
    Columns(u32),
}

impl Width {
    /// The number of columns for a world `height` rows high.
    pub fn columns(self, height: u32) -> u32 {
        match self {
            Self::Wide => height.saturating_mul(4),
            Self::Landscape => (f64::from(height) * 1.778) as u32,
            Self::Square => height,
            Self::Petri => height / 2,
            Self::Columns(w) => w,
        }
    }
}

impl FromStr for Width {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wide" => Ok(Self::Wide),
            "landscape" => Ok(Self::Landscape),
            "square" => Ok(Self::Square),
            "petri" => Ok(Self::Petri),
            other => other.parse::<u32>().map(Self::Columns).map_err(|_| {
                Error::invalid(format!(
                    "unknown width {s:?}: give a number of columns or one of wide (4h), \
                     landscape (1.778h), square (h), petri (h/2)"
                ))
            }),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WidthRepr {
    Columns(u32),
    Name(String),
}

impl TryFrom<WidthRepr> for Width {
    type Error = Error;

    fn try_from(value: WidthRepr) -> Result<Self> {
        match value {
            WidthRepr::Columns(w) => Ok(Self::Columns(w)),
            WidthRepr::Name(name) => name.parse(),
        }
    }
}

impl From<Width> for WidthRepr {
    fn from(value: Width) -> Self {
        match value {
            Width::Wide => Self::Name("wide".into()),
            Width::Landscape => Self::Name("landscape".into()),
            Width::Square => Self::Name("square".into()),
            Width::Petri => Self::Name("petri".into()),
            Width::Columns(w) => Self::Columns(w),
        }
    }
}

/// The initial world a configuration builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// SUN on top, IMMOVABLE at the bottom, earth in the lower half, a seed in the middle.
    #[default]
    Default,
    /// The default world with a SUN triangle top-left and an IMMOVABLE staircase
    /// bottom-right (the "sideways" preset).
    Sideways,
}

/// The published configurations of Biomaker CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Long-lived plants, expensive reproduction.
    Persistence,
    /// Short lifetimes (300 steps): plants must reproduce quickly.
    Pestilence,
    /// Cheap spawning, high dissipation, effectively immortal cells.
    Collaboration,
    /// Light from the top-left, a staircase of rock bottom-right.
    Sideways,
}

impl Preset {
    /// Every preset, in the reference's order.
    pub const ALL: [Preset; 4] = [
        Self::Persistence,
        Self::Pestilence,
        Self::Collaboration,
        Self::Sideways,
    ];

    /// The preset's name as files and the command line spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persistence => "persistence",
            Self::Pestilence => "pestilence",
            Self::Collaboration => "collaboration",
            Self::Sideways => "sideways",
        }
    }
}

impl FromStr for Preset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown preset {s:?}: choose one of persistence, pestilence, \
                     collaboration, sideways"
                ))
            })
    }
}

/// Everything that defines a Biomaker CA environment. Pairs are `[earth, air]`.
///
/// ```
/// use morphogen::biome::{BiomeConfig, Preset, Width};
///
/// let config = BiomeConfig::preset(Preset::Persistence)
///     .height(72)
///     .width(Width::Landscape);
/// assert_eq!(config.columns(), 128);
/// config.validate()?;
/// # Ok::<(), morphogen::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiomeConfig {
    /// Rows (at least 4).
    pub height: u32,
    /// Columns, or a shape relative to the height.
    pub width: Width,
    /// The initial world.
    pub layout: Layout,
    /// Agent internal state channels (state has 4 + this many channels).
    pub agent_state_size: u32,
    /// Structural integrity of IMMOVABLE; it decays by 1 per EARTH and 5 per agent cell.
    pub struct_integrity_cap: f64,
    /// What a ROOT (earth) or LEAF (air) asks of each neighbour per step.
    #[serde(alias = "absorbtion_amounts")]
    pub absorption_amounts: [f64; 2],
    /// What an agent loses per step (times its specialization's rate).
    pub dissipation_per_step: [f64; 2],
    /// What spawning a child costs the parent.
    pub spawn_cost: [f64; 2],
    /// What a flower pays to reproduce.
    pub reproduce_cost: [f64; 2],
    /// What changing specialization costs.
    pub specialize_cost: [f64; 2],
    /// Nearest column (inclusive) a seed may land from its flower.
    pub reproduce_min_dist: u32,
    /// Farthest column (inclusive) a seed may land from its flower.
    pub reproduce_max_dist: u32,
    /// Reproductions carried out per step at most.
    pub n_reproduce_per_step: u32,
    /// Most nutrient an agent cell holds.
    pub nutrient_cap: [f64; 2],
    /// Most nutrient a material cell holds (IMMOVABLE and SUN act as sources at this level).
    pub material_nutrient_cap: [f64; 2],
    /// Steps after which an agent has lost all its nutrients to aging.
    pub max_lifetime: u32,
    /// Soil self-balancing: 0 turns it off, 1/3 is the recommended variant.
    pub soil_unbalance_limit: f64,
    /// Agent programs and mutation (`[agents]` in TOML).
    #[serde(default)]
    pub agents: AgentConfig,
    /// The petri-dish mode (the reference's `intercept_reproduction`): reproductions are
    /// intercepted and counted instead of placing seeds. A pick succeeds when what its
    /// flower holds above the reproduce cost reaches these amounts in both nutrients;
    /// the flower is removed either way, and no program is mutated. `None`: reproduction
    /// places seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercept_reproduction: Option<[f64; 2]>,
}

/// Keys that a configuration writes only when set.
const OPTIONAL_KEYS: &[&str] = &["intercept_reproduction"];

impl Default for BiomeConfig {
    fn default() -> Self {
        Self {
            height: 72,
            width: Width::Wide,
            layout: Layout::Default,
            agent_state_size: 2,
            struct_integrity_cap: 200.0,
            absorption_amounts: [0.25, 0.25],
            dissipation_per_step: [0.05, 0.05],
            spawn_cost: [0.1, 0.1],
            reproduce_cost: [0.5, 0.5],
            specialize_cost: [0.02, 0.02],
            reproduce_min_dist: 5,
            reproduce_max_dist: 15,
            n_reproduce_per_step: 2,
            nutrient_cap: [10.0, 10.0],
            material_nutrient_cap: [10.0, 10.0],
            max_lifetime: 1_000_000,
            soil_unbalance_limit: 0.0,
            agents: AgentConfig::default(),
            intercept_reproduction: None,
        }
    }
}

impl BiomeConfig {
    /// One of the published configurations, 72 rows high and `Width::Wide`.
    pub fn preset(preset: Preset) -> Self {
        let base = Self {
            reproduce_min_dist: 15,
            reproduce_max_dist: 35,
            reproduce_cost: [1.0, 1.0],
            ..Self::default()
        };
        let pair = |v: f64| [v, v];
        match preset {
            Preset::Persistence => Self {
                dissipation_per_step: pair(0.01),
                spawn_cost: pair(0.75),
                specialize_cost: pair(0.02),
                max_lifetime: 10_000,
                ..base
            },
            Preset::Pestilence => Self {
                dissipation_per_step: pair(0.01),
                spawn_cost: pair(0.75),
                specialize_cost: pair(0.05),
                max_lifetime: 300,
                ..base
            },
            Preset::Collaboration => Self {
                struct_integrity_cap: 300.0,
                dissipation_per_step: pair(0.05),
                spawn_cost: pair(0.25),
                specialize_cost: pair(0.05),
                max_lifetime: 100_000_000,
                ..base
            },
            Preset::Sideways => Self {
                layout: Layout::Sideways,
                struct_integrity_cap: 400.0,
                dissipation_per_step: pair(0.01),
                spawn_cost: pair(0.75),
                specialize_cost: pair(0.02),
                max_lifetime: 10_000,
                ..base
            },
        }
    }

    /// Sets the height in rows.
    pub fn height(mut self, height: u32) -> Self {
        self.height = height;
        self
    }

    /// Sets the width.
    pub fn width(mut self, width: Width) -> Self {
        self.width = width;
        self
    }

    /// Applies the choices the command line and the web page offer on top of a preset or a
    /// file: rows, width, and minimal programs instead of extended ones; then validates.
    pub fn choose(
        mut self,
        height: Option<u32>,
        width: Option<Width>,
        minimal: bool,
    ) -> Result<Self> {
        if let Some(h) = height {
            self.height = h;
        }
        if let Some(w) = width {
            self.width = w;
        }
        if minimal {
            self.agents.model = crate::biome::AgentModel::Minimal;
        }
        self.validate()?;
        Ok(self)
    }

    /// Sets the soil self-balancing limit (0 off, 1/3 recommended).
    pub fn soil_unbalance_limit(mut self, limit: f64) -> Self {
        self.soil_unbalance_limit = limit;
        self
    }

    /// The number of columns.
    pub fn columns(&self) -> u32 {
        self.width.columns(self.height)
    }

    /// Float channels per cell: integrity, age, two nutrients, the agent state.
    pub fn state_channels(&self) -> usize {
        4 + self.agent_state_size as usize
    }

    /// Nutrients a seed cell starts with per channel: `4 · dissipation + specialize_cost`.
    pub fn seed_nutrients(&self) -> [f64; 2] {
        [0, 1].map(|i| 4.0 * self.dissipation_per_step[i] + self.specialize_cost[i])
    }

    /// Checks every field; the error names the field and its allowed range.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::invalid(format!("biome config: {msg}")));
        if self.height < 4 {
            return bad(format!(
                "height {} is below 4: a world needs a SUN row, an IMMOVABLE row and earth \
                 between them",
                self.height
            ));
        }
        let w = self.columns();
        if w == 0 {
            return bad(format!(
                "width {:?} gives 0 columns at height {}",
                self.width, self.height
            ));
        }
        let cells = u64::from(self.height) * u64::from(w);
        if cells * self.state_channels() as u64 > u64::from(u32::MAX) {
            return bad(format!(
                "{}x{w} cells with {} state channels exceed 2^32 values; use a smaller world",
                self.height,
                self.state_channels()
            ));
        }
        if self.layout == Layout::Sideways && (w < 20 || self.height < 20) {
            return bad(format!(
                "the sideways layout draws a 20-cell SUN triangle and IMMOVABLE staircase \
                 and needs at least 20x20 cells, got {}x{w}",
                self.height
            ));
        }
        if self.agent_state_size as usize > crate::biome::program::MAX_AGENT_STATE {
            return bad(format!(
                "agent_state_size {} is above {}, the most the agent kernels hold",
                self.agent_state_size,
                crate::biome::program::MAX_AGENT_STATE
            ));
        }
        self.agents.validate()?;
        let pairs = [
            ("absorption_amounts", self.absorption_amounts),
            ("dissipation_per_step", self.dissipation_per_step),
            ("spawn_cost", self.spawn_cost),
            ("reproduce_cost", self.reproduce_cost),
            ("specialize_cost", self.specialize_cost),
        ];
        for (name, pair) in pairs {
            if pair.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return bad(format!(
                    "{name} {pair:?} must be finite and non-negative (one value for earth, \
                     one for air)"
                ));
            }
        }
        for (name, pair) in [
            ("nutrient_cap", self.nutrient_cap),
            ("material_nutrient_cap", self.material_nutrient_cap),
        ] {
            if pair.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                return bad(format!("{name} {pair:?} must be finite and positive"));
            }
        }
        if let Some(min) = self.intercept_reproduction {
            if min.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return bad(format!(
                    "intercept_reproduction {min:?}: the energy a reproduction needs must be \
                     finite and non-negative (one value for earth, one for air)"
                ));
            }
        }
        if !self.struct_integrity_cap.is_finite() || self.struct_integrity_cap < 0.0 {
            return bad(format!(
                "struct_integrity_cap {} must be finite and non-negative",
                self.struct_integrity_cap
            ));
        }
        if self.reproduce_min_dist > self.reproduce_max_dist {
            return bad(format!(
                "reproduce_min_dist {} exceeds reproduce_max_dist {}",
                self.reproduce_min_dist, self.reproduce_max_dist
            ));
        }
        if self.max_lifetime == 0 {
            return bad("max_lifetime must be at least 1 step".into());
        }
        if !(0.0..0.5).contains(&self.soil_unbalance_limit) {
            return bad(format!(
                "soil_unbalance_limit {} must lie in [0, 0.5): 0 turns balancing off, 1/3 is \
                 the recommended value",
                self.soil_unbalance_limit
            ));
        }
        Ok(())
    }

    /// The configuration as TOML (every field written out).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::invalid(format!("biome config to TOML: {e}")))
    }

    /// Parses TOML. A `preset = "name"` key starts from that preset, and the other keys
    /// override its fields; without it the reference's defaults are the base. Unknown keys
    /// are errors.
    pub fn from_toml(text: &str) -> Result<Self> {
        let bad = |msg: String| Error::invalid(format!("biome config TOML: {msg}"));
        let mut table: toml::Table = text.parse().map_err(|e| bad(format!("{e}")))?;
        let base = match table.remove("preset") {
            None => Self::default(),
            Some(toml::Value::String(name)) => Self::preset(name.parse()?),
            Some(other) => return Err(bad(format!("preset must be a string, got {other}"))),
        };
        let mut merged = toml::Table::try_from(&base).map_err(|e| bad(format!("{e}")))?;
        for (key, value) in table {
            let key = if key == "absorbtion_amounts" {
                "absorption_amounts".to_string()
            } else {
                key
            };
            if !merged.contains_key(&key) && !OPTIONAL_KEYS.contains(&key.as_str()) {
                let mut known: Vec<&str> = merged.keys().map(String::as_str).collect();
                known.extend(OPTIONAL_KEYS);
                known.sort_unstable();
                return Err(bad(format!(
                    "unknown key {key:?}; the known keys are preset, {}",
                    known.join(", ")
                )));
            }
            merged.insert(key, value);
        }
        let config: Self = merged.try_into().map_err(|e| bad(format!("{e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML file (see [`BiomeConfig::from_toml`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
    }

    /// Writes the configuration as TOML, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, self.to_toml()?.as_bytes())
    }
}
