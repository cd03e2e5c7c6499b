//! Checkpoint files of the grid automata: safetensors with the run's description in the
//! header's metadata, written with the metadata in key order (so two saves of one state
//! are the same bytes) and read back with errors that name the file and what is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// A tensor over `bytes` for [`serialize`].
pub(crate) fn view(dtype: Dtype, shape: Vec<usize>, bytes: &[u8]) -> Result<TensorView<'_>> {
    TensorView::new(dtype, shape, bytes)
        .map_err(|e| Error::invalid(format!("checkpoint tensor: {e}")))
}

/// The file's bytes: `tensors`, and `metadata` in the header in key order.
pub(crate) fn serialize(
    tensors: Vec<(&str, TensorView<'_>)>,
    metadata: &BTreeMap<&str, String>,
) -> Result<Vec<u8>> {
    let file = safetensors::serialize(tensors, None)
        .map_err(|e| Error::invalid(format!("writing a checkpoint: {e}")))?;
    with_metadata(file, metadata)
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

/// A checkpoint file being read: its tensors and metadata, with errors that name the file.
pub(crate) struct TensorFile<'a> {
    tensors: SafeTensors<'a>,
    metadata: std::collections::HashMap<String, String>,
    source: &'a Path,
    what: &'a str,
}

impl<'a> TensorFile<'a> {
    /// Parses `bytes`, a checkpoint of `what` (for messages) read from `source`, whose
    /// `format` metadata must be `format`.
    pub fn parse(bytes: &'a [u8], source: &'a Path, what: &'a str, format: &str) -> Result<Self> {
        let file = Self {
            tensors: SafeTensors::deserialize(bytes).map_err(|e| {
                Error::invalid(format!("{}: not a safetensors file: {e}", source.display()))
            })?,
            metadata: SafeTensors::read_metadata(bytes)
                .map_err(|e| {
                    Error::invalid(format!("{}: unreadable header: {e}", source.display()))
                })?
                .1
                .metadata()
                .clone()
                .unwrap_or_default(),
            source,
            what,
        };
        let found = file.field("format")?;
        if found != format {
            return Err(file.bad(format!("format {found:?} is not {format:?}")));
        }
        Ok(file)
    }

    /// An input error about this file.
    pub fn bad(&self, message: String) -> Error {
        Error::invalid(format!("{}: {message}", self.source.display()))
    }

    /// A metadata field.
    pub fn field(&self, key: &str) -> Result<&str> {
        self.metadata.get(key).map(String::as_str).ok_or_else(|| {
            self.bad(format!(
                "no {key:?} in the metadata: not a {} checkpoint",
                self.what
            ))
        })
    }

    /// A metadata field that holds JSON.
    pub fn json(&self, key: &str) -> Result<serde_json::Value> {
        serde_json::from_str(self.field(key)?)
            .map_err(|e| self.bad(format!("{key} is not JSON: {e}")))
    }

    /// A metadata field that holds a whole number.
    pub fn number(&self, key: &str) -> Result<u64> {
        self.field(key)?
            .parse::<u64>()
            .map_err(|_| self.bad(format!("{key} is not a whole number")))
    }

    /// A tensor's shape and its elements as little-endian words of `dtype`'s size
    /// (4 or 8 bytes).
    pub fn words<T: bytemuck::Pod>(
        &self,
        name: &str,
        dtype: Dtype,
    ) -> Result<(Vec<usize>, Vec<T>)> {
        let t = self
            .tensors
            .tensor(name)
            .map_err(|_| self.bad(format!("no tensor {name:?}")))?;
        if t.dtype() != dtype {
            return Err(self.bad(format!("tensor {name:?} is {:?}, not {dtype:?}", t.dtype())));
        }
        let size = std::mem::size_of::<T>();
        let data = t
            .data()
            .chunks_exact(size)
            .map(|c| bytemuck::pod_read_unaligned(c))
            .collect();
        Ok((t.shape().to_vec(), data))
    }
}
