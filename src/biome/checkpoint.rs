//! Checkpoints: a world with its programs, configuration, seed and step count in one
//! safetensors file (tensors `types` [h, w] u32, `state` [h, w, channels] f32, `ids`
//! [h, w] u32, `programs` [slots, floats per slot] f32; the configuration as TOML in the
//! metadata), readable from Python with `safetensors`.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::biome::config::BiomeConfig;
use crate::biome::program::{ProgramLayout, ProgramTable};
use crate::biome::state::WorldState;
use crate::biome::world::World;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

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

fn view(dtype: Dtype, shape: Vec<usize>, bytes: &[u8]) -> Result<TensorView<'_>> {
    TensorView::new(dtype, shape, bytes)
        .map_err(|e| Error::invalid(format!("checkpoint tensor: {e}")))
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
        let tensors = safetensors::serialize(views, None)
            .map_err(|e| Error::invalid(format!("writing a checkpoint: {e}")))?;
        with_metadata(tensors, &metadata)
    }

    /// Parses a file's bytes; `source` names the file in errors.
    pub fn decode(bytes: &[u8], source: &Path) -> Result<Self> {
        let bad = |msg: String| Error::invalid(format!("{}: {msg}", source.display()));
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("unreadable header: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| {
            meta.get(key).ok_or_else(|| {
                bad(format!(
                    "no {key:?} in the metadata: not a biome checkpoint"
                ))
            })
        };
        if field("format")? != FORMAT {
            return Err(bad(format!(
                "format {:?} is not {FORMAT:?}",
                field("format")?
            )));
        }
        let config = BiomeConfig::from_toml(field("config")?)?;
        let number = |key: &str| {
            field(key)?
                .parse::<u64>()
                .map_err(|_| bad(format!("{key} is not a whole number")))
        };
        let (seed, step) = (number("seed")?, number("step")?);
        let words = |name: &str, dtype: Dtype| -> Result<(Vec<usize>, Vec<u32>)> {
            let t = tensors
                .tensor(name)
                .map_err(|_| bad(format!("no tensor {name:?}")))?;
            if t.dtype() != dtype {
                return Err(bad(format!(
                    "tensor {name:?} is {:?}, not {dtype:?}",
                    t.dtype()
                )));
            }
            let data = t
                .data()
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((t.shape().to_vec(), data))
        };
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

/// Adds `metadata` to the header of a safetensors file written without any, in key order.
///
/// safetensors takes the metadata as a `HashMap` and writes it in iteration order, which
/// differs between maps (each has its own random hash keys), so two saves of one state
/// would differ in bytes. The header is JSON whose tensor offsets count from the end of
/// the header, so it can be rewritten (and re-padded to 8 bytes, as the format requires)
/// without touching the tensor bytes.
fn with_metadata(file: Vec<u8>, metadata: &BTreeMap<&str, String>) -> Result<Vec<u8>> {
    let broken = |what: &str| Error::invalid(format!("writing a checkpoint: {what}"));
    let header_len = file
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| file.len() >= 8 + n)
        .ok_or_else(|| broken("safetensors wrote no header"))?;
    let (header, tensors) = file[8..].split_at(header_len);
    let mut header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|e| broken(&format!("safetensors wrote an unreadable header: {e}")))?;
    let metadata: serde_json::Map<String, serde_json::Value> = metadata
        .iter()
        .map(|(key, value)| (key.to_string(), value.as_str().into()))
        .collect();
    header.insert("__metadata__".into(), metadata.into());
    let mut header = serde_json::to_vec(&header)
        .map_err(|e| broken(&format!("the header does not serialise: {e}")))?;
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + header.len() + tensors.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(tensors);
    Ok(out)
}

impl World {
    /// The world's checkpoint (reads the grids back).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint {
            config: self.config.clone(),
            seed: self.seed,
            step: self.step,
            world: self.download()?,
            programs: self.programs()?,
        })
    }

    /// Saves a checkpoint file that [`World::resume`] continues exactly.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        self.checkpoint()?.save(path)
    }

    /// A world continuing from a checkpoint file.
    pub fn resume(ctx: &GpuContext, path: &Path) -> Result<Self> {
        let cp = Checkpoint::load(path)?;
        Self::from_parts(ctx, &cp.config, &cp.world, &cp.programs, cp.seed, cp.step)
    }
}
