//! portwatch: change detection over archives of satellite images of ports, on the GPU through wgpu or on
//! the CPU through rayon, with identical results.
//!
//! Input: [`archive`] (dated scenes, decoded by [`scene`]) and [`regions`] (rasterized by [`rasterize`]).
//! The kernel contract and its two backends: [`kernel`]. The series driver: [`driver`]. Outputs: [`output`],
//! and [`progress`] on stderr. Synthetic archives with ground truth: [`synth`]; scoring a run against the
//! truth of its archive: [`eval`]. What a run used: [`run_record`]; the analysts' page: [`report`].

pub mod acquisition;
pub mod archive;
pub mod error;
pub mod eval;
pub mod geotiff;
pub mod kernel;
pub mod output;
pub mod progress;
pub mod radiometry;
pub mod rasterize;
pub mod regions;
pub mod report;
pub mod run_record;
pub mod scene;
pub mod series;
pub mod statistics;
pub mod synth;

pub use error::{Error, Result};
