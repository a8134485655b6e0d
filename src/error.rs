//! The one error type of the crate.
//!
//! Every fallible public function returns [`Result`]. Messages name the file, tensor or limit that is at
//! fault, because they are what a user sees on the command line.

use std::path::PathBuf;

/// Everything that can go wrong in wgsd.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter could be found (or none matched the user's `--adapter` choice).
    #[error("{0}")]
    NoAdapter(String),

    /// The device refused something: a shader that does not compile, a failed device request.
    #[error("GPU device error: {0}")]
    Device(String),

    /// A tensor or buffer does not fit a limit of the adapter.
    #[error("{what} needs {needed} bytes but the adapter's {limit} is {max} bytes")]
    Limit {
        /// The tensor or buffer at fault.
        what: String,
        /// The limit's name, as wgpu spells it (`max_storage_buffer_binding_size`, ...).
        limit: &'static str,
        /// Bytes needed.
        needed: u64,
        /// The adapter's limit.
        max: u64,
    },

    /// A shape, a size or an argument that cannot work.
    #[error("{0}")]
    Invalid(String),

    /// The run cannot fit the memory budget; nothing was allocated on the device.
    #[error("budget {budget} bytes is too small: {message}; the smallest budget that works is {minimum} bytes ({minimum_mib:.1} MiB)")]
    Budget {
        /// The budget given.
        budget: u64,
        /// The smallest budget that works for these arguments.
        minimum: u64,
        /// `minimum` in MiB.
        minimum_mib: f64,
        /// What needs it.
        message: String,
    },

    /// A memory plan could not be made (see [`crate::planner::PlanError`]).
    #[error(transparent)]
    Plan(#[from] crate::planner::PlanError),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A file was read but its content is not what was expected.
    #[error("{path}: {message}")]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A content error in `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
