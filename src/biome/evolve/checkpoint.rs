//! Evolution checkpoints: the search state (tensors `center`, `stdev`, `adam_m`,
//! `adam_v`, f64) and the fitness history (`history` [generations, 3] f64: generation,
//! best, mean) in one safetensors file; the dish (its world as TOML, steps, target,
//! weight), PGPE's settings, seed and generation in the metadata.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::Dtype;
use serde_json::{json, Value};

use super::{Evolution, Generation, PetriConfig, Pgpe, PgpeConfig};
use crate::biome::config::BiomeConfig;
use crate::error::{Error, Result};
use crate::io::tensors::{serialize, view, TensorFile};

const FORMAT: &str = "morphogen.biome.evolution/1";

impl Evolution {
    /// The checkpoint file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let p = &self.pgpe;
        let n = p.center.len();
        let history: Vec<f64> = self
            .history
            .iter()
            .flat_map(|g| [g.generation as f64, g.best, g.mean])
            .collect();
        let views = vec![
            (
                "center",
                view(Dtype::F64, vec![n], bytemuck::cast_slice(&p.center))?,
            ),
            (
                "stdev",
                view(Dtype::F64, vec![n], bytemuck::cast_slice(&p.stdev))?,
            ),
            (
                "adam_m",
                view(Dtype::F64, vec![n], bytemuck::cast_slice(&p.m))?,
            ),
            (
                "adam_v",
                view(Dtype::F64, vec![n], bytemuck::cast_slice(&p.v))?,
            ),
            (
                "history",
                view(
                    Dtype::F64,
                    vec![self.history.len(), 3],
                    bytemuck::cast_slice(&history),
                )?,
            ),
        ];
        let c = &p.config;
        let metadata = BTreeMap::from([
            ("format", FORMAT.to_string()),
            ("world", self.petri.world.to_toml()?),
            (
                "dish",
                json!({
                    "steps": self.petri.steps,
                    "target_agents": self.petri.target_agents,
                    "reproduction_weight": self.petri.reproduction_weight,
                })
                .to_string(),
            ),
            (
                "pgpe",
                json!({
                    "population": c.population,
                    "center_learning_rate": c.center_learning_rate,
                    "stdev_learning_rate": c.stdev_learning_rate,
                    "init_stdev": c.init_stdev,
                    "stdev_max_change": c.stdev_max_change,
                    "beta1": c.beta1, "beta2": c.beta2, "epsilon": c.epsilon,
                })
                .to_string(),
            ),
            ("seed", p.seed.to_string()),
            ("generation", p.generation.to_string()),
        ]);
        serialize(views, &metadata)
    }

    /// Parses a checkpoint's bytes; `source` names the file in errors.
    pub fn decode(bytes: &[u8], source: &Path) -> Result<Self> {
        let file = TensorFile::parse(bytes, source, "evolution", FORMAT)?;
        let json = |key: &str| file.json(key);
        let world = BiomeConfig::from_toml(file.field("world")?)?;
        let dish = json("dish")?;
        let number = |v: &Value, key: &str| {
            v[key]
                .as_f64()
                .ok_or_else(|| file.bad(format!("{key} is missing or not a number")))
        };
        let petri = PetriConfig {
            world,
            steps: number(&dish, "steps")? as u64,
            target_agents: number(&dish, "target_agents")?,
            reproduction_weight: number(&dish, "reproduction_weight")?,
        };
        let g = json("pgpe")?;
        let config = PgpeConfig {
            population: number(&g, "population")? as usize,
            center_learning_rate: number(&g, "center_learning_rate")?,
            stdev_learning_rate: number(&g, "stdev_learning_rate")?,
            init_stdev: number(&g, "init_stdev")?,
            stdev_max_change: number(&g, "stdev_max_change")?,
            beta1: number(&g, "beta1")?,
            beta2: number(&g, "beta2")?,
            epsilon: number(&g, "epsilon")?,
        };
        config.validate().map_err(|e| file.bad(e))?;
        petri.validate().map_err(|e| file.bad(e.to_string()))?;
        let vector = |name: &str| file.words::<f64>(name, Dtype::F64).map(|(_, v)| v);
        let center = vector("center")?;
        let n = center.len();
        let (stdev, m, v) = (vector("stdev")?, vector("adam_m")?, vector("adam_v")?);
        if [stdev.len(), m.len(), v.len()] != [n; 3] {
            return Err(file.bad("the search state's vectors differ in length".into()));
        }
        let history = vector("history")?
            .chunks_exact(3)
            .map(|r| Generation {
                generation: r[0] as u64,
                best: r[1],
                mean: r[2],
            })
            .collect();
        Ok(Self {
            petri,
            pgpe: Pgpe {
                config,
                seed: file.number("seed")?,
                generation: file.number("generation")?,
                center,
                stdev,
                m,
                v,
            },
            history,
        })
    }

    /// Writes a checkpoint, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.encode()?)
    }

    /// Reads a checkpoint that [`Evolution::run`] continues exactly.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::decode(&bytes, path)
    }
}
