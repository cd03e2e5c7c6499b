//! Checkpoints: a world with its programs, configuration, seed and step count in one
//! safetensors file (tensors `types` [h, w] u32, `state` [h, w, channels] f32, `ids`
//! [h, w] u32, `programs` [slots, floats per slot] f32; the configuration as TOML in the
//! metadata), readable from Python with `safetensors`.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::Dtype;

use crate::biome::config::BiomeConfig;
use crate::biome::program::{ProgramLayout, ProgramTable};
use crate::biome::state::WorldState;
use crate::biome::world::Worlds;
use crate::error::{Error, Result};
use crate::io::tensors::{serialize, view, TensorFile};

const FORMAT: &str = "morphogen.biome.checkpoint/1";

/// Everything needed to continue a run exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The configuration the world runs under.
    pub config: BiomeConfig,
    /// The seed of its random draws.
    pub seed: u64,
    /// Steps already run.
    pub step: u64,
    /// The grids.
    pub world: WorldState,
    /// The program table.
    pub programs: ProgramTable,
}

impl Checkpoint {
    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let w = &self.world;
        let shape2 = vec![w.height, w.width];
        let views = vec![
            (
                "types",
                view(Dtype::U32, shape2.clone(), bytemuck::cast_slice(&w.types))?,
            ),
            (
                "state",
                view(
                    Dtype::F32,
                    vec![w.height, w.width, w.channels],
                    bytemuck::cast_slice(&w.state),
                )?,
            ),
            (
                "ids",
                view(Dtype::U32, shape2, bytemuck::cast_slice(&w.ids))?,
            ),
            (
                "programs",
                view(
                    Dtype::F32,
                    vec![self.programs.slots(), self.programs.stride],
                    bytemuck::cast_slice(&self.programs.data),
                )?,
            ),
        ];
        let metadata = BTreeMap::from([
            ("format", FORMAT.to_string()),
            ("config", self.config.to_toml()?),
            ("seed", self.seed.to_string()),
            ("step", self.step.to_string()),
        ]);
        serialize(views, &metadata)
    }

    /// Parses a file's bytes; `source` names the file in errors.
    pub fn decode(bytes: &[u8], source: &Path) -> Result<Self> {
        let file = TensorFile::parse(bytes, source, "biome", FORMAT)?;
        let bad = |msg: String| file.bad(msg);
        let config = BiomeConfig::from_toml(file.field("config")?)?;
        let (seed, step) = (file.number("seed")?, file.number("step")?);
        let words = |name: &str, dtype: Dtype| file.words::<u32>(name, dtype);
        let (type_shape, types) = words("types", Dtype::U32)?;
        let (state_shape, state_bits) = words("state", Dtype::F32)?;
        let (_, ids) = words("ids", Dtype::U32)?;
        let (_, program_bits) = words("programs", Dtype::F32)?;
        let layout = ProgramLayout::new(config.agents.model, config.agent_state_size as usize);
        let programs = ProgramTable {
            stride: config.agents.stride(&layout),
            layout,
            data: program_bits.into_iter().map(f32::from_bits).collect(),
        };
        if programs.data.len() != programs.stride * config.agents.slots as usize {
            return Err(bad(format!(
                "tensor \"programs\" holds {} values, not {} slots of {}",
                programs.data.len(),
                config.agents.slots,
                programs.stride
            )));
        }
        let (height, width) = match type_shape[..] {
            [h, w] => (h, w),
            _ => return Err(bad("tensor \"types\" is not 2-D".into())),
        };
        let channels = state_shape.get(2).copied().unwrap_or(0);
        let world = WorldState {
            height,
            width,
            channels,
            types,
            state: state_bits.into_iter().map(f32::from_bits).collect(),
            ids,
        };
        world.validate().map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            config,
            seed,
            step,
            world,
            programs,
        })
    }

    /// Writes the checkpoint, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.encode()?)
    }

    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::decode(&bytes, path)
    }
}

impl Worlds {
    /// World `world`'s checkpoint (reads its grids back).
    pub fn checkpoint(&self, world: usize) -> Result<Checkpoint> {
        Ok(Checkpoint {
            config: self.config.clone(),
            seed: *self.seeds.get(world).ok_or_else(|| {
                Error::invalid(format!(
                    "world {world} is not in a batch of {}",
                    self.count()
                ))
            })?,
            step: self.step,
            world: self.download(world)?,
            programs: self.programs(world)?,
        })
    }

    /// Saves world `world`'s checkpoint file, which [`World::resume`] continues exactly.
    ///
    /// [`World::resume`]: crate::biome::World::resume
    pub fn save_checkpoint(&self, world: usize, path: &Path) -> Result<()> {
        self.checkpoint(world)?.save(path)
    }
}
