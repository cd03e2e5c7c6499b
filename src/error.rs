//! The one error type of the crate.
//!
//! Every message says what went wrong and, where there is one, what to do about it.

use std::path::PathBuf;

/// Result alias used throughout morphogen.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in morphogen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No GPU adapter was found on the backends that were searched.
    #[error(
        "no GPU adapter found on backends {backends}. morphogen needs a Vulkan, Metal or DX12 \
         driver: install your GPU's driver, or a software Vulkan driver on the CPU \
         (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`). If a driver is installed, \
         check that WGPU_BACKEND (now {env_backend:?}) does not exclude it"
    )]
    NoAdapter {
        /// The backends that were searched.
        backends: String,
        /// The value of `WGPU_BACKEND`, if set.
        env_backend: Option<String>,
    },

    /// An adapter was asked for by name or index but none matched.
    #[error(
        "no GPU adapter matches {wanted:?} (from {source_of_choice}). Adapters found: {}. \
         Pass a substring of one of these names (case-insensitive) or its index as listed by \
         `morphogen info`",
        if available.is_empty() { "none".to_string() } else { available.join("; ") }
    )]
    AdapterNotFound {
        /// What was asked for.
        wanted: String,
        /// Where the request came from (`MORPHOGEN_ADAPTER`, `--adapter`, ...).
        source_of_choice: String,
        /// Names of the adapters that exist.
        available: Vec<String>,
    },

    /// The adapter refused to create a device.
    #[error("the GPU adapter {adapter:?} refused to create a device: {message}")]
    RequestDevice {
        /// Adapter name.
        adapter: String,
        /// Driver message.
        message: String,
    },

    /// A shader could not be assembled by the `#import` preprocessor.
    #[error("shader {shader:?}: {message}")]
    Preprocess {
        /// Shader name (path under `shaders/` without extension).
        shader: String,
        /// What is wrong.
        message: String,
    },

    /// A shader failed to compile or a pipeline failed to build.
    #[error("shader {shader:?} (entry {entry:?}) failed to compile: {message}")]
    Shader {
        /// Shader name.
        shader: String,
        /// Entry point.
        entry: String,
        /// Compiler message.
        message: String,
    },

    /// A request exceeds a limit of the device.
    #[error(
        "{what} needs {requested} but this device allows at most {limit} ({limit_name}). {hint}"
    )]
    LimitExceeded {
        /// What was being created.
        what: String,
        /// Requested amount.
        requested: u64,
        /// The device's limit.
        limit: u64,
        /// Name of the wgpu limit.
        limit_name: &'static str,
        /// What to do about it.
        hint: &'static str,
    },

    /// The device ran out of memory.
    #[error(
        "the GPU ran out of memory while creating {what} ({bytes} bytes). Use a smaller \
         problem, a larger GPU, or free resources held elsewhere"
    )]
    OutOfMemory {
        /// What was being created.
        what: String,
        /// Size requested.
        bytes: u64,
    },

    /// A validation or internal error reported by the GPU API.
    #[error("GPU error in {context}: {message}")]
    Gpu {
        /// What morphogen was doing.
        context: String,
        /// The API's message.
        message: String,
    },

    /// Mapping a buffer for readback failed.
    #[error("reading back {what} from the GPU failed: {message}")]
    Readback {
        /// What was read.
        what: String,
        /// Why it failed.
        message: String,
    },

    /// The device was lost (driver reset, GPU removed, timeout).
    #[error(
        "the GPU device was lost: {0}. The driver may have reset the GPU (a kernel ran too long \
         or memory ran out); restart the run, and resume from a checkpoint if one was written"
    )]
    DeviceLost(String),

    /// The adapter or its driver cannot run this work (the input is fine).
    #[error("this adapter cannot run {what}: {hint}")]
    Unsupported {
        /// What could not run, and why.
        what: String,
        /// What to do about it.
        hint: String,
    },

    /// A figure could not be drawn.
    #[error("drawing the figure {figure:?} failed: {message}")]
    Figure {
        /// The figure's title.
        figure: String,
        /// What the plotting library reported.
        message: String,
    },

    /// Input data or a configuration is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
