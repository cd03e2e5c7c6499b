//! What every subcommand shares: failures with their exit codes, the output directory
//! (refused when not empty, files written whole), progress bars, summaries.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::error::Error;

/// Why a command failed, which decides its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (exit code 2): the message names the file or flag and what was expected.
    Input(String),
    /// No adapter, or the device failed (exit code 3).
    Device(String),
    /// The adapter or its driver cannot run a part of the work (exit code 3).
    Unsupported(String),
    /// The solve did not converge and `--strict` was given (exit code 4).
    NotConverged(String),
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Self::Input(_) => 2,
            Self::Device(_) | Self::Unsupported(_) => 3,
            Self::NotConverged(_) => 4,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Input(m) | Self::Device(m) | Self::Unsupported(m) | Self::NotConverged(m) => m,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidInput(_) | Error::Io { .. } | Error::LimitExceeded { .. } => {
                Self::Input(message)
            }
            Error::Unsupported { .. } => Self::Unsupported(message),
            _ => Self::Device(message),
        }
    }
}

/// Result of a subcommand.
pub type CliResult<T> = std::result::Result<T, Failure>;

/// Shorthand for an input failure.
pub fn bad(message: impl Into<String>) -> Failure {
    Failure::Input(message.into())
}

/// The directory a command writes into.
#[derive(Clone, Debug)]
pub struct OutDir {
    path: PathBuf,
}

impl OutDir {
    /// Checks that `path` is absent, empty, or `force` is given, then creates it. Call
    /// after every input has been read and checked, so bad input leaves nothing behind.
    pub fn prepare(path: &Path, force: bool) -> CliResult<Self> {
        if path.exists() {
            if !path.is_dir() {
                return Err(bad(format!(
                    "--out {}: exists and is not a directory",
                    path.display()
                )));
            }
            let non_empty = std::fs::read_dir(path)
                .map_err(|e| bad(format!("--out {}: {e}", path.display())))?
                .next()
                .is_some();
            if non_empty && !force {
                return Err(bad(format!(
                    "--out {}: the directory is not empty; choose another or pass --force to \
                     write into it",
                    path.display()
                )));
            }
        }
        std::fs::create_dir_all(path)
            .map_err(|e| bad(format!("--out {}: cannot create it: {e}", path.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The path of `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a subdirectory.
    pub fn subdir(&self, name: &str) -> CliResult<PathBuf> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
        Ok(dir)
    }

    /// Writes `bytes` to `name`, whole or not at all.
    pub fn write(&self, name: &str, bytes: &[u8]) -> CliResult<PathBuf> {
        let path = self.join(name);
        crate::io::write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Writes a float32 or int64 array as `.npy`.
    pub fn npy<T: crate::io::npy::NpyElement>(
        &self,
        name: &str,
        data: &[T],
        shape: &[usize],
    ) -> CliResult<PathBuf> {
        self.write(name, &crate::io::npy::encode(data, shape)?)
    }

    /// Writes a figure as `name` (PNG), whole or not at all.
    pub fn figure(&self, name: &str, figure: &crate::figures::Figure) -> CliResult<PathBuf> {
        self.write(name, &figure.png()?)
    }

    /// Writes `summary.json` with `wall_seconds`, `gpu_seconds` and `peak_resident_bytes`
    /// added: the wall-clock seconds since `started` (reading the inputs, choosing the
    /// adapter, compiling kernels, the work and writing its outputs), the GPU's busy time
    /// where measured, and the process's peak memory so far where the system reports it.
    /// Prints it on stdout with `--json`; returns it as written.
    pub fn summary(
        &self,
        summary: Value,
        started: Instant,
        gpu_seconds: Option<f64>,
        json: bool,
    ) -> CliResult<Value> {
        let Value::Object(mut fields) = summary else {
            return Err(Failure::Device(
                "summary: not a JSON object (a bug in morphogen)".into(),
            ));
        };
        fields.insert(
            "wall_seconds".into(),
            json!(started.elapsed().as_secs_f64()),
        );
        fields.insert("gpu_seconds".into(), json!(gpu_seconds));
        fields.insert("peak_resident_bytes".into(), json!(peak_resident_bytes()));
        let summary = Value::Object(fields);
        let text = serde_json::to_string_pretty(&summary)
            .map_err(|e| Failure::Device(format!("summary: {e}")))?;
        if json {
            println!("{text}");
        }
        self.write("summary.json", text.as_bytes())?;
        Ok(summary)
    }
}

/// The process's peak resident memory in bytes, where the system reports it (Linux's
/// `VmHWM`), for summaries of long runs.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A progress bar on stderr with rate and ETA, hidden with `--quiet` or when stderr is
/// not a terminal.
pub fn progress(total: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {prefix}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work without steps to count.
pub fn spinner(what: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Reads a `.npy` array, naming the flag in errors.
pub fn read_npy(flag: &str, path: &Path) -> CliResult<crate::io::npy::NpyArray> {
    if !path.is_file() {
        return Err(bad(format!("{flag} {}: no such file", path.display())));
    }
    let array = crate::io::npy::read(path).map_err(|e| bad(format!("{flag} {e}")))?;
    if let Some(i) = array.data.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "{flag} {}: value {i} is not finite (NaN or infinite)",
            path.display()
        )));
    }
    Ok(array)
}

/// Reads an N × d array of points.
pub fn read_points(flag: &str, path: &Path) -> CliResult<(Vec<f32>, usize)> {
    let array = read_npy(flag, path)?;
    match array.shape[..] {
        [n, d] if n > 0 && d > 0 => Ok((array.data, d)),
        _ => Err(bad(format!(
            "{flag} {}: expected a 2-D array of points (N x d) with N, d > 0, got shape {:?}",
            path.display(),
            array.shape
        ))),
    }
}

/// Reads a 1-D array of `n` weights.
pub fn read_weights(flag: &str, path: &Path, n: usize) -> CliResult<Vec<f32>> {
    let array = read_npy(flag, path)?;
    if array.shape != [n] {
        return Err(bad(format!(
            "{flag} {}: expected {n} weights (a 1-D array), got shape {:?}",
            path.display(),
            array.shape
        )));
    }
    Ok(array.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_that_cannot_run_the_work_is_a_device_failure_not_bad_input() {
        let unsupported = Failure::from(Error::Unsupported {
            what: "this network".into(),
            hint: "install Mesa 25".into(),
        });
        assert!(matches!(unsupported, Failure::Unsupported(_)));
        assert_eq!(unsupported.code(), 3);
        assert!(unsupported.message().contains("install Mesa 25"));
        assert_eq!(Failure::from(Error::InvalidInput("x".into())).code(), 2);
    }
}
