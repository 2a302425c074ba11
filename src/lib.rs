//! portwatch: change detection over archives of satellite images of ports, on the GPU through wgpu or on
//! the CPU through rayon, with identical results.
//!
//! Input: [`archive`] (dated scenes, decoded by [`scene`]; folders of single-band files by [`band_stack`])
//! and [`regions`] (rasterized by [`rasterize`]).
//! The kernel contract and its two backends: [`kernel`]. The series driver: [`series`]. Outputs: [`output`],
//! and [`progress`] on stderr. Synthetic archives with ground truth: [`synth`]; scoring a run against the
//! truth of its archive: [`eval`]. What a run used: [`run_record`]; what it has finished, for resuming
//! and merging: [`store`]; the analysts' page: [`report`]. One pair on its own, and its evaluation on
//! labelled real imagery: [`pair`], with [`cloud`] masking and [`coregister`] alignment, which [`prepare`]
//! applies to an archive's scenes. Throughput of each stage: [`bench`]; how many scenes the per-scene stages
//! take at once: [`working_memory`].

pub mod acquisition;
pub mod archive;
pub mod band_stack;
pub mod bench;
pub mod cloud;
pub mod coregister;
pub mod error;
pub mod eval;
pub mod geotiff;
pub mod kernel;
pub mod output;
pub mod pair;
pub mod prepare;
pub mod progress;
pub mod radiometry;
pub mod rasterize;
pub mod regions;
pub mod report;
pub mod run_record;
pub mod scene;
pub mod series;
pub mod statistics;
pub mod store;
pub mod synth;
pub mod working_memory;

pub use error::{Error, Result};
