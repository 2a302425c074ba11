//! The library's error type: every failure names the file, region or device it concerns and what is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the archive or the regions is unusable: unreadable, undecodable, inconsistent.
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    /// One region of a regions file is unusable.
    #[error("{}: region \"{region}\": {message}", path.display())]
    Region {
        path: PathBuf,
        region: String,
        message: String,
    },
    /// One line of a CSV table is unusable; `line` counts from 1, the header included.
    #[error("{}, line {line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// Two inputs conflict with each other (same acquisition time, overlapping regions).
    #[error("{message}: {} and {}", first.display(), second.display())]
    Conflict {
        first: PathBuf,
        second: PathBuf,
        message: String,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A setting is out of the range the kernels support.
    #[error("{0}")]
    Setting(String),
    #[error("GPU: {0}")]
    Gpu(String),
    /// The GPU device was lost while in use (driver reset, device removed); the CPU can take over.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
}

impl Error {
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
