//! NumPy `.npy` files (format 1.0/2.0): float32, float64, int64 and int32 arrays in C
//! order, little-endian — what `np.save` writes and `np.load` reads.

use std::path::Path;

use crate::error::{Error, Result};

/// An array read from a `.npy` file, converted to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

/// Element types that can be written.
pub trait NpyElement: bytemuck::Pod {
    /// NumPy's type string.
    const DESCR: &'static str;
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
}

impl NpyElement for f64 {
    const DESCR: &'static str = "<f8";
}

impl NpyElement for i64 {
    const DESCR: &'static str = "<i8";
}

impl NpyElement for u8 {
    const DESCR: &'static str = "|u1";
}

/// The bytes of a `.npy` file holding `data` with `shape`.
pub fn encode<T: NpyElement>(data: &[T], shape: &[usize]) -> Result<Vec<u8>> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        return Err(Error::invalid(format!(
            "shape {shape:?} holds {count} values, not {}",
            data.len()
        )));
    }
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        T::DESCR
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(bytemuck::cast_slice(data));
    Ok(bytes)
}

/// Writes `data` with `shape` to `path`, whole or not at all.
pub fn write<T: NpyElement>(path: &Path, data: &[T], shape: &[usize]) -> Result<()> {
    super::write_atomic(path, &encode(data, shape)?)
}

fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    Some(rest)
}

/// Reads a `.npy` file of float32, float64, int64 or int32 values (converted to f32).
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
}

/// Parses the bytes of a `.npy` file.
pub fn decode(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no NUMPY magic); save arrays with numpy.save".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + header_len)
            .ok_or("truncated header")?,
    )
    .map_err(|_| "the header is not text")?;
    let descr = header_value(header, "descr")
        .and_then(|v| v.strip_prefix('\''))
        .and_then(|v| v.split('\'').next())
        .ok_or("no dtype in the header")?;
    if header_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err("Fortran-ordered arrays are not supported; save a C-ordered array (np.ascontiguousarray)".into());
    }
    let shape_text = header_value(header, "shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or("no shape in the header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension {s:?} in the shape"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    let need = |size: usize| -> std::result::Result<&[u8], String> {
        body.get(..count * size).ok_or_else(|| {
            format!(
                "the file holds {} bytes of data, the shape {shape:?} needs {}",
                body.len(),
                count * size
            )
        })
    };
    let data: Vec<f32> = match descr {
        "<f4" => need(4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<f8" => need(8)?
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        "<i8" => need(8)?
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        "<i4" => need(4)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        other => {
            return Err(format!(
                "dtype {other} is not supported; use float32 or float64"
            ))
        }
    };
    Ok(NpyArray { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let bytes = encode(&data, &[3, 4]).unwrap();
        assert_eq!(
            (bytes.len() - data.len() * 4) % 64,
            0,
            "header padded to 64 bytes"
        );
        let back = decode(&bytes).unwrap();
        assert_eq!(back.shape, vec![3, 4]);
        assert_eq!(back.data, data);
        let one = decode(&encode(&[1.5f64, -2.0], &[2]).unwrap()).unwrap();
        assert_eq!((one.shape, one.data), (vec![2], vec![1.5, -2.0]));
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        assert!(decode(b"not numpy").unwrap_err().contains("magic"));
        let mut bytes = encode(&[1.0f32; 4], &[4]).unwrap();
        bytes.truncate(bytes.len() - 4);
        assert!(decode(&bytes).unwrap_err().contains("needs 16"));
        let text = String::from_utf8_lossy(&encode(&[1u8], &[1]).unwrap()).to_string();
        assert!(text.contains("|u1"));
    }
}
