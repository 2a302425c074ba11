//! The work store, `OUT/work/`: what a run has finished, kept so that a run killed at any moment (SIGKILL
//! included) and started again redoes only the unfinished work, and so that shards of a run, each decoding
//! a part of the archive, can be merged into the outputs of a single run.
//!
//! Layout: `manifest.json` (the arguments, the shard, the archive's listing: [`Manifest`]); `scenes/` one
//! entry per scene, its decoded samples and validity bitmap or why it failed, headed by the size and
//! modification time of its files so that a changed file is decoded again; `checkpoints/` the measurement
//! stage's results: each scene as prepared and what preparing it found, the backgrounds and radiometry, the
//! calibration, then one entry per measured date. Scene entries are read back whole or a stripe of rows at a
//! time ([`StoredScene`]), so that the measurement stage need not hold them.
//! Every entry is written whole to a temporary file and renamed into place, so an entry is either complete
//! or absent. A finished run removes the store.

use crate::archive::{Archive, ArchiveEntry, LoadedScenes, SceneFailure};
use crate::band_stack;
use crate::error::{Error, Result};
use crate::kernel::params::HISTOGRAM_BINS;
use crate::kernel::{ChangeMask, PairStats, Radiometry, RegionStats};
use crate::output::{write_atomically, write_with};
use crate::run_record::RunArguments;
use crate::scene::{self, DecodeOptions, Scene, SceneFormat};
use crate::series::{CellMeasurement, Stretch};
use crate::working_memory;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

/// The store's folder inside an output directory.
pub const WORK_DIR: &str = "work";
pub const MANIFEST_FILE: &str = "manifest.json";
/// The version of the store's layout; a store of another version is not reused.
pub const STORE_VERSION: u32 = 1;

const SCENES_DIR: &str = "scenes";
const CHECKPOINTS_DIR: &str = "checkpoints";
const SCENE_MAGIC: &[u8; 8] = b"PWSCENE1";
const CHECKPOINT_MAGIC: &[u8; 8] = b"PWCHECK1";

/// Test hook: the process aborts (as a kill would end it, without unwinding) right after writing this
/// many store entries, so that tests can interrupt a run at chosen points.
const ABORT_HOOK: &str = "PORTWATCH_TEST_ABORT_AFTER";
static ENTRIES_WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Which part of the work a process does: the scenes whose index in the work list is `index` modulo
/// `count`; `index` counts from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the work item `item` of the list belongs to this shard.
    pub fn covers(&self, item: usize) -> bool {
        item % self.count as usize == self.index as usize
    }
}

/// What a store was made for: a run resumed or merged on it must have been given the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`STORE_VERSION`].
    pub version: u32,
    /// The portwatch version that made the store.
    pub portwatch: String,
    pub arguments: RunArguments,
    /// `None` for a whole run.
    pub shard: Option<Shard>,
    /// The archive's scene files by name, in acquisition order.
    pub scenes: Vec<String>,
    /// The regions file's size and modification time: the checkpoints hold measurements per region.
    pub regions_file: String,
}

impl Manifest {
    pub fn new(arguments: RunArguments, shard: Option<Shard>, entries: &[ArchiveEntry]) -> Self {
        let arguments_regions = arguments.regions.clone();
        Manifest {
            version: STORE_VERSION,
            portwatch: env!("CARGO_PKG_VERSION").to_owned(),
            arguments,
            shard,
            scenes: entries.iter().map(|e| file_name(&e.image)).collect(),
            regions_file: file_identity(&arguments_regions),
        }
    }

    /// The manifest of the store in `work`, `None` when there is none.
    pub fn read(work: &Path) -> Result<Option<Manifest>> {
        let path = work.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::input(&path, format!("cannot read: {e}"))),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::input(
                &path,
                format!(
                    "not a portwatch work manifest ({e}); remove the folder or run with --force"
                ),
            )
        })
    }

    pub fn write(&self, work: &Path) -> Result<()> {
        create_dir(work)?;
        let json = serde_json::to_string_pretty(self).expect("a manifest always encodes") + "\n";
        write_atomically(&work.join(MANIFEST_FILE), json.as_bytes())
    }
}

/// The store of one output directory.
pub struct Store {
    work: PathBuf,
}

impl Store {
    /// The store in `out/work`, created when first written.
    pub fn new(out: &Path) -> Store {
        Store {
            work: out.join(WORK_DIR),
        }
    }

    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The entry file of `entry`'s scene.
    pub fn scene_path(&self, entry: &ArchiveEntry) -> PathBuf {
        self.work
            .join(SCENES_DIR)
            .join(format!("{}.scene", file_name(&entry.image)))
    }

    /// The stored outcome of decoding `entry`, its samples left on disk: `None` when there is no entry, or
    /// when it was made from files of another size or modification time, or cannot be read back.
    pub fn scene(&self, entry: &ArchiveEntry) -> Option<Result<StoredScene, SceneFailure>> {
        let path = self.scene_path(entry);
        let file = File::open(&path).ok()?;
        let identity = source_identity(entry);
        let head = read_at(&file, 0, SCENE_MAGIC.len() + 8 + identity.len() + 1)?;
        let mut reader = Reader::new(&head, SCENE_MAGIC)?;
        if reader.bytes()? != identity.as_slice() {
            return None;
        }
        let at = head.len() as u64;
        if reader.bool()? {
            return StoredScene::locate(path, &file, at).map(Ok);
        }
        let tail = std::fs::read(&path).ok()?;
        let mut reader = Reader::headless(tail.get(head.len()..)?);
        let failure = SceneFailure {
            file: PathBuf::from(reader.string()?),
            reason: reader.string()?,
        };
        reader.finished().then_some(Err(failure))
    }

    /// Records the outcome of decoding `entry`.
    pub fn put_scene(
        &self,
        entry: &ArchiveEntry,
        outcome: &Result<Scene, SceneFailure>,
    ) -> Result<()> {
        let mut writer = Writer::new(SCENE_MAGIC);
        writer.bytes(&source_identity(entry));
        match outcome {
            Ok(scene) => {
                writer.bool(true);
                writer.scene(scene);
            }
            Err(failure) => {
                writer.bool(false);
                writer.string(&failure.file.to_string_lossy());
                writer.string(&failure.reason);
            }
        }
        let path = self.scene_path(entry);
        create_dir(path.parent().expect("scene entries are in a folder"))?;
        self.commit(&path, &writer)
    }

    /// Decodes each of `entries` that the store does not hold, in parallel, and records the outcome;
    /// `on_scene` is called with each entry once it is in the store. Returns how many were decoded.
    /// Memory holds as many decoded scenes as [`working_memory::bounded`] allows for the largest scene
    /// the entries' headers announce.
    pub fn decode_missing(
        &self,
        entries: &[&ArchiveEntry],
        options: &DecodeOptions,
        on_scene: impl Fn(&ArchiveEntry) + Sync,
    ) -> Result<usize> {
        let scene_bytes = (entries.iter())
            .filter_map(|entry| scene::decoded_bytes(&entry.image))
            .max()
            .unwrap_or(0);
        let decoded = working_memory::bounded(entries.par_iter(), scene_bytes)
            .map(|entry| {
                let missing = self.scene(entry).is_none();
                if missing {
                    self.put_scene(entry, &entry.decode(options))?;
                }
                on_scene(entry);
                Ok(usize::from(missing))
            })
            .collect::<Result<Vec<usize>>>()?;
        Ok(decoded.into_iter().sum())
    }

    /// Every scene of `archive` as the store holds it, in acquisition order; an error naming the first
    /// scene it does not hold.
    pub fn load(&self, archive: &Archive) -> Result<LoadedScenes<StoredScene>> {
        let decoded = archive
            .entries
            .par_iter()
            .map(|entry| {
                self.scene(entry).ok_or_else(|| {
                    Error::input(
                        self.scene_path(entry),
                        format!(
                            "the work store holds no usable entry for {}",
                            entry.image.display()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        archive.select(decoded, |scene| scene.format)
    }

    /// Whether the store holds at least one scene entry: work worth keeping for a later attempt.
    pub fn holds_scenes(&self) -> bool {
        std::fs::read_dir(self.work.join(SCENES_DIR)).is_ok_and(|mut items| items.next().is_some())
    }

    /// Takes the scene entry `source` of another store (a shard's) as the entry of `entry`: a hard link
    /// where the file system allows one, else a copy, renamed into place.
    pub fn adopt_scene(&self, entry: &ArchiveEntry, source: &Path) -> Result<()> {
        let target = self.scene_path(entry);
        if target.is_file() {
            return Ok(());
        }
        create_dir(target.parent().expect("scene entries are in a folder"))?;
        let write_error = |source| Error::Write {
            path: target.clone(),
            source,
        };
        if std::fs::hard_link(source, &target).is_ok() {
            return Ok(());
        }
        let bytes =
            std::fs::read(source).map_err(|e| Error::input(source, format!("cannot read: {e}")))?;
        write_atomically(&target, &bytes).map_err(|e| match e {
            Error::Write { source, .. } => write_error(source),
            other => other,
        })
    }

    /// Removes the temporary files that killed runs left in the store.
    pub fn remove_stale_temporaries(&self) -> Result<()> {
        for dir in [
            self.work.clone(),
            self.work.join(SCENES_DIR),
            self.work.join(CHECKPOINTS_DIR),
        ] {
            remove_temporaries(&dir).map_err(|source| Error::Write { path: dir, source })?;
        }
        Ok(())
    }

    /// Removes the measurement stage's checkpoints: they were computed from scenes since decoded again.
    pub fn discard_checkpoints(&self) -> Result<()> {
        remove_dir(&self.work.join(CHECKPOINTS_DIR))
    }

    /// Removes the whole store, once the outputs it served are written.
    pub fn remove(&self) -> Result<()> {
        remove_dir(&self.work)
    }

    /// The checkpoint `name`, `None` when absent or unreadable.
    pub fn checkpoint<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&mut Reader) -> Option<T>,
    ) -> Option<T> {
        let bytes = std::fs::read(self.work.join(CHECKPOINTS_DIR).join(name)).ok()?;
        let mut reader = Reader::new(&bytes, CHECKPOINT_MAGIC)?;
        let value = decode(&mut reader)?;
        reader.finished().then_some(value)
    }

    pub fn put_checkpoint<'a>(
        &self,
        name: &str,
        encode: impl FnOnce(&mut Writer<'a>),
    ) -> Result<()> {
        let mut writer = Writer::new(CHECKPOINT_MAGIC);
        encode(&mut writer);
        let dir = self.work.join(CHECKPOINTS_DIR);
        create_dir(&dir)?;
        self.commit(&dir.join(name), &writer)
    }

    /// Records `scene` as the checkpoint `name`, to be read back as the returned [`StoredScene`].
    pub fn put_scene_checkpoint(&self, name: &str, scene: &Scene) -> Result<StoredScene> {
        self.put_checkpoint(name, |w| w.scene(scene))?;
        self.scene_checkpoint(name).ok_or_else(|| {
            Error::input(
                self.work.join(CHECKPOINTS_DIR).join(name),
                "the work store's entry just written cannot be read back",
            )
        })
    }

    /// Records the validity bitmap of `scene` as the checkpoint `name`, to be read back as the returned
    /// [`StoredScene`]: `scene` has the samples of `base`, which are not written again.
    pub fn put_validity_checkpoint(
        &self,
        name: &str,
        base: &StoredScene,
        scene: &Scene,
    ) -> Result<StoredScene> {
        self.put_checkpoint(name, |w| w.bitmap(scene.validity.as_deref()))?;
        self.validity_checkpoint(name, base).ok_or_else(|| {
            Error::input(
                self.work.join(CHECKPOINTS_DIR).join(name),
                "the work store's entry just written cannot be read back",
            )
        })
    }

    /// The scene of the samples of `base` and the validity recorded as the checkpoint `name`, `None` when
    /// absent or unreadable.
    pub fn validity_checkpoint(&self, name: &str, base: &StoredScene) -> Option<StoredScene> {
        let path = self.work.join(CHECKPOINTS_DIR).join(name);
        let file = File::open(&path).ok()?;
        let magic = read_at(&file, 0, CHECKPOINT_MAGIC.len())?;
        Reader::new(&magic, CHECKPOINT_MAGIC)?;
        let entry_length = file.metadata().ok()?.len();
        let validity = locate_bitmap(&file, magic.len() as u64, base.format)?.map(|at| Extent {
            path,
            at,
            entry_length,
        });
        Some(StoredScene {
            format: base.format,
            samples: base.samples.clone(),
            validity,
        })
    }

    /// The scene recorded as the checkpoint `name`, `None` when absent or unreadable.
    pub fn scene_checkpoint(&self, name: &str) -> Option<StoredScene> {
        let path = self.work.join(CHECKPOINTS_DIR).join(name);
        let file = File::open(&path).ok()?;
        let magic = read_at(&file, 0, CHECKPOINT_MAGIC.len())?;
        Reader::new(&magic, CHECKPOINT_MAGIC)?;
        StoredScene::locate(path, &file, magic.len() as u64)
    }

    fn commit(&self, path: &Path, entry: &Writer) -> Result<()> {
        write_with(path, |file| entry.write_to(file))?;
        let written = ENTRIES_WRITTEN.fetch_add(1, Ordering::SeqCst) + 1;
        let limit = std::env::var(ABORT_HOOK)
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        if limit.is_some_and(|limit| written >= limit) {
            std::process::abort();
        }
        Ok(())
    }
}

/// An output folder held by this process while the value lives (an advisory lock on the folder), so that a
/// second run or merge on the same `--out` is refused rather than mixing its work store with this one's.
pub struct OutputLock {
    _folder: File,
}

impl OutputLock {
    /// Holds `out`, which must exist; an error naming it when another process holds it.
    pub fn acquire(out: &Path) -> Result<OutputLock> {
        let cannot =
            |e: std::io::Error| Error::input(out, format!("cannot lock the output folder: {e}"));
        let folder = File::open(out).map_err(cannot)?;
        match folder.try_lock() {
            Ok(()) => Ok(OutputLock { _folder: folder }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::input(
                out,
                "another portwatch process is writing to this output folder; wait for it to finish, or give another --out",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(cannot(e)),
        }
    }
}

/// The file name of `path`, as written in the manifest and the names of scene entries.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// What identifies the files a scene was decoded from: their names, sizes and modification times (every
/// band file of a folder scene, or the folder itself when they cannot be listed).
fn source_identity(entry: &ArchiveEntry) -> Vec<u8> {
    let mut writer = Writer::new(&[0; 8]);
    let image_files = match entry.image.is_dir() {
        true => band_stack::band_files(&entry.image).unwrap_or_else(|_| vec![entry.image.clone()]),
        false => vec![entry.image.clone()],
    };
    for file in image_files.iter().chain(&entry.mask) {
        writer.string(&file_name(file));
        writer.string(&file_identity(file));
    }
    writer.bytes.split_off(8)
}

/// A file's size and modification time in nanoseconds, `SIZE@NANOS`; `missing` when it cannot be read.
fn file_identity(path: &Path) -> String {
    let Ok(metadata) = std::fs::metadata(path) else {
        return "missing".to_owned();
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}@{modified}", metadata.len())
}

/// Removes the temporary files of [`crate::output::AtomicFile`] (`.NAME.PID.tmp`) in `dir`, which
/// processes killed while writing left behind; nothing when `dir` does not exist.
pub fn remove_temporaries(dir: &Path) -> std::io::Result<()> {
    let listing = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        listing => listing?,
    };
    for item in listing {
        let path = item?.path();
        let name = file_name(&path);
        if name.starts_with('.') && name.ends_with(".tmp") && path.is_file() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Write {
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// A scene held in the store: its format and where its samples and validity bitmap lie in the store's
/// entries, read whole or a stripe of rows at a time when needed rather than held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredScene {
    pub format: SceneFormat,
    samples: Extent,
    validity: Option<Extent>,
}

/// Where a run of words lies in a store entry, with the entry's length when it was found: another length
/// means the entry was replaced since.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Extent {
    path: PathBuf,
    at: u64,
    entry_length: u64,
}

impl Extent {
    /// The words `range` of the run.
    fn read(&self, range: Range<usize>) -> Result<Vec<u32>> {
        let unreadable = |error: std::io::Error| {
            Error::input(
                &self.path,
                format!("cannot read the work store's entry: {error}"),
            )
        };
        let mut file = File::open(&self.path).map_err(unreadable)?;
        if file.metadata().map_err(unreadable)?.len() != self.entry_length {
            return Err(Error::input(
                &self.path,
                "the work store's entry was replaced while the run read it (is another run writing to the same output folder?)",
            ));
        }
        let mut words = vec![0u32; range.len()];
        file.seek(SeekFrom::Start(self.at + 4 * range.start as u64))
            .and_then(|_| file.read_exact(bytemuck::cast_slice_mut(&mut words)))
            .map_err(unreadable)?;
        Ok(words)
    }
}

impl StoredScene {
    /// The scene [`Writer::scene`] wrote at `at` in `file`, which it must end: checked against the file's
    /// length, so a truncated entry reads as absent.
    fn locate(path: PathBuf, file: &File, at: u64) -> Option<StoredScene> {
        let head = read_at(file, at, 4 * 4 + 8)?;
        let mut reader = Reader::headless(&head);
        let format = reader.scene_format()?;
        let words_at = at + head.len() as u64;
        let words_length = reader.u64()?;
        if words_length != 4 * format.word_count() as u64 {
            return None;
        }
        let validity_at = words_at + words_length;
        let validity = locate_bitmap(file, validity_at, format)?;
        let samples = Extent {
            path: path.clone(),
            at: words_at,
            entry_length: file.metadata().ok()?.len(),
        };
        let validity = validity.map(|at| Extent {
            at,
            ..samples.clone()
        });
        Some(StoredScene {
            format,
            samples,
            validity,
        })
    }

    /// The whole scene.
    pub fn read(&self) -> Result<Scene> {
        self.read_rows(0..self.format.height)
    }

    /// The rows `rows`, cut as [`Scene::rows`] cuts them.
    pub fn read_rows(&self, rows: Range<u32>) -> Result<Scene> {
        let format = self.format.with_height(rows.len() as u32);
        let (samples, bitmap) = self.format.stripe_words(rows);
        Ok(Scene {
            format,
            words: self.samples.read(samples)?,
            validity: self
                .validity
                .as_ref()
                .map(|validity| validity.read(bitmap))
                .transpose()?,
        })
    }
}

/// Where the optional bitmap [`Writer::scene`] or [`Writer::bitmap`] wrote at `at` in `file` begins (`None`
/// when there is none), checking that it is of the size `format` needs and ends the file; `None` (outer)
/// when the file is not so.
fn locate_bitmap(file: &File, at: u64, format: SceneFormat) -> Option<Option<u64>> {
    let file_length = file.metadata().ok()?.len();
    if read_at(file, at, 1)? == [0] {
        return (at + 1 == file_length).then_some(None);
    }
    let length = Reader::headless(&read_at(file, at + 1, 8)?).u64()?;
    let bitmap_at = at + 1 + 8;
    (length == 4 * format.bitmap_word_count() as u64 && bitmap_at + length == file_length)
        .then_some(Some(bitmap_at))
}

/// `length` bytes of `file` from `at`; `None` when the file is shorter.
fn read_at(mut file: &File, at: u64, length: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0; length];
    file.seek(SeekFrom::Start(at)).ok()?;
    file.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// A store entry being encoded: little-endian integers, length-prefixed runs. Runs of words (a scene's
/// samples) are written from where they lie, not copied into the entry first.
pub struct Writer<'a> {
    bytes: Vec<u8>,
    /// Runs to write as they are, each with the length of `bytes` written before it.
    borrowed: Vec<(usize, &'a [u8])>,
}

impl<'a> Writer<'a> {
    fn new(magic: &[u8; 8]) -> Writer<'a> {
        Writer {
            bytes: magic.to_vec(),
            borrowed: Vec::new(),
        }
    }

    /// The entry, written to `sink`.
    fn write_to(&self, sink: &mut impl Write) -> std::io::Result<()> {
        let mut written = 0;
        for &(at, run) in &self.borrowed {
            sink.write_all(&self.bytes[written..at])?;
            sink.write_all(run)?;
            written = at;
        }
        sink.write_all(&self.bytes[written..])
    }

    pub fn bool(&mut self, value: bool) {
        self.bytes.push(u8::from(value));
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.u64(bytes.len() as u64);
        self.bytes.extend_from_slice(bytes);
    }

    pub fn string(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    pub fn words(&mut self, words: &'a [u32]) {
        let bytes: &[u8] = bytemuck::cast_slice(words);
        self.u64(bytes.len() as u64);
        self.borrowed.push((self.bytes.len(), bytes));
    }

    pub fn scene(&mut self, scene: &'a Scene) {
        let f = scene.format;
        for value in [f.width, f.height, f.bands, f.bits_per_sample] {
            self.u32(value);
        }
        self.words(&scene.words);
        self.bitmap(scene.validity.as_deref());
    }

    /// An optional bitmap.
    pub fn bitmap(&mut self, bitmap: Option<&'a [u32]>) {
        self.bool(bitmap.is_some());
        if let Some(bitmap) = bitmap {
            self.words(bitmap);
        }
    }

    pub fn radiometry(&mut self, radiometry: &Radiometry) {
        self.bytes(bytemuck::bytes_of(radiometry));
    }

    pub fn region_stats(&mut self, stats: &[RegionStats]) {
        self.u64(stats.len() as u64);
        for s in stats {
            for value in [s.valid_px, s.changed_px, s.magnitude_sum] {
                self.u64(value);
            }
            for &count in &s.histogram {
                self.u64(count);
            }
        }
    }

    pub fn cells(&mut self, cells: &[CellMeasurement]) {
        self.u64(cells.len() as u64);
        for cell in cells {
            self.u64(cell.valid_px);
            self.u64(cell.changed_px);
            self.u32(cell.stretch.start);
            self.u32(cell.stretch.length);
            self.bool(cell.stretch.ends_seen[0]);
            self.bool(cell.stretch.ends_seen[1]);
            self.bool(cell.change_score.is_some());
            self.u64(cell.change_score.unwrap_or(0.0).to_bits());
        }
    }

    /// A pair's statistics and change mask, if any (profiles are not kept: pairs have none).
    pub fn pair_stats_opt(&mut self, stats: Option<&'a PairStats>) {
        self.bool(stats.is_some());
        let Some(stats) = stats else {
            return;
        };
        self.region_stats(&stats.regions);
        self.bool(stats.change_mask.is_some());
        if let Some(mask) = &stats.change_mask {
            self.u32(mask.width);
            self.u32(mask.height);
            self.words(&mask.words);
        }
    }
}

/// A store entry being decoded; every read is `None` past the end.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], magic: &[u8; 8]) -> Option<Reader<'a>> {
        Some(Reader {
            bytes: bytes.strip_prefix(magic.as_slice())?,
        })
    }

    /// A reader of a part of an entry, past its magic.
    fn headless(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if count > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Some(head)
    }

    fn finished(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn bool(&mut self) -> Option<bool> {
        match self.take(1)? {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn length(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let length = self.length()?;
        self.take(length)
    }

    pub fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    pub fn words(&mut self) -> Option<Vec<u32>> {
        let bytes = self.bytes()?;
        (bytes.len() % 4 == 0).then(|| bytemuck::pod_collect_to_vec(bytes))
    }

    /// A scene's format, `None` unless its sample size and band count are ones a scene can have (so that
    /// an entry of another kind, or a damaged one, reads as absent).
    fn scene_format(&mut self) -> Option<SceneFormat> {
        let format = SceneFormat {
            width: self.u32()?,
            height: self.u32()?,
            bands: self.u32()?,
            bits_per_sample: self.u32()?,
        };
        let possible = [8, 16].contains(&format.bits_per_sample)
            && (1..=crate::kernel::params::MAX_BANDS).contains(&format.bands);
        possible.then_some(format)
    }

    pub fn scene(&mut self) -> Option<Scene> {
        let format = self.scene_format()?;
        let words = self.words()?;
        let validity = if self.bool()? {
            Some(self.words()?)
        } else {
            None
        };
        let fits = words.len() == format.word_count()
            && validity
                .as_ref()
                .is_none_or(|v| v.len() == format.bitmap_word_count());
        fits.then_some(Scene {
            format,
            words,
            validity,
        })
    }

    pub fn radiometry(&mut self) -> Option<Radiometry> {
        bytemuck::try_pod_read_unaligned(self.bytes()?).ok()
    }

    pub fn region_stats(&mut self) -> Option<Vec<RegionStats>> {
        (0..self.length()?)
            .map(|_| {
                let mut s = RegionStats {
                    valid_px: self.u64()?,
                    changed_px: self.u64()?,
                    magnitude_sum: self.u64()?,
                    histogram: [0; HISTOGRAM_BINS],
                };
                for count in &mut s.histogram {
                    *count = self.u64()?;
                }
                Some(s)
            })
            .collect()
    }

    pub fn cells(&mut self) -> Option<Vec<CellMeasurement>> {
        (0..self.length()?)
            .map(|_| {
                let valid_px = self.u64()?;
                let changed_px = self.u64()?;
                let stretch = Stretch {
                    start: self.u32()?,
                    length: self.u32()?,
                    ends_seen: [self.bool()?, self.bool()?],
                };
                let scored = self.bool()?;
                let score = f64::from_bits(self.u64()?);
                Some(CellMeasurement {
                    valid_px,
                    changed_px,
                    stretch,
                    change_score: scored.then_some(score),
                })
            })
            .collect()
    }

    /// What [`Writer::pair_stats_opt`] wrote: `Some(None)` for no pair.
    pub fn pair_stats_opt(&mut self) -> Option<Option<PairStats>> {
        if !self.bool()? {
            return Some(None);
        }
        let regions = self.region_stats()?;
        let change_mask = if self.bool()? {
            Some(ChangeMask {
                width: self.u32()?,
                height: self.u32()?,
                words: self.words()?,
            })
        } else {
            None
        };
        Some(Some(PairStats {
            regions,
            change_mask,
            profiles: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acquisition::Acquisition;
    use crate::kernel::params::all_set_bitmap;

    fn entry(dir: &Path, bytes: &[u8]) -> ArchiveEntry {
        let image = dir.join("2023-08-01.png");
        std::fs::write(&image, bytes).unwrap();
        ArchiveEntry {
            acquired: Acquisition::from_stem("2023-08-01").unwrap(),
            image,
            mask: None,
        }
    }

    #[test]
    fn scene_entries_round_trip_and_go_stale_with_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let entry = entry(dir.path(), b"first");
        let mut scene = Scene::from_u16(3, 2, 2, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 65535]);
        scene.validity = Some(vec![0b101101]);
        assert!(store.scene(&entry).is_none());
        store.put_scene(&entry, &Ok(scene.clone())).unwrap();
        let stored = store.scene(&entry).unwrap().unwrap();
        assert_eq!(stored.read().unwrap(), scene);
        let failure = SceneFailure {
            file: entry.image.clone(),
            reason: "cannot decode image".into(),
        };
        store.put_scene(&entry, &Err(failure.clone())).unwrap();
        assert_eq!(store.scene(&entry), Some(Err(failure)));
        // The entry of the scene was replaced: the handle to it can no longer read it whole.
        assert!(stored.read().is_err());
        // Another size: the entry is not the file's any more.
        std::fs::write(&entry.image, b"second, longer").unwrap();
        assert!(store.scene(&entry).is_none());
    }

    #[test]
    fn stored_scenes_read_back_stripe_by_stripe() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        // 8-bit, 3 bands, an odd width: rows do not end on whole words, stripes of 32 rows do.
        let (width, height) = (7, 70);
        let samples: Vec<u8> = (0..width * height * 3)
            .map(|i| (i * 37 % 251) as u8)
            .collect();
        let mut scene = Scene::from_u8(width, height, 3, &samples);
        let mut validity = all_set_bitmap((width * height) as usize);
        validity[3] &= !0b1001;
        scene.validity = Some(validity);
        for scene in [
            scene.clone(),
            Scene {
                validity: None,
                ..scene.clone()
            },
        ] {
            let stored = store
                .put_scene_checkpoint("prepared-000000", &scene)
                .unwrap();
            assert_eq!(stored.read().unwrap(), scene);
            let stripes = [0..32, 32..64, 64..70].into_iter().map(|rows| {
                let stripe = stored.read_rows(rows.clone())?;
                assert_eq!(stripe, scene.rows(rows));
                Ok::<_, Error>(stripe)
            });
            assert_eq!(Scene::from_stripes(scene.format, stripes).unwrap(), scene);
        }
        // A change of validity alone is kept without the samples, which stay those of the base entry.
        let base = store.put_scene_checkpoint("base", &scene).unwrap();
        let mut masked = Scene {
            validity: None,
            ..scene.clone()
        };
        let unmasked = store
            .put_validity_checkpoint("masked", &base, &masked)
            .unwrap();
        assert_eq!(unmasked.read().unwrap(), masked);
        masked.validity = Some(all_set_bitmap((width * height) as usize));
        masked.validity.as_mut().unwrap()[5] = 0;
        store
            .put_validity_checkpoint("masked", &base, &masked)
            .unwrap();
        let reopened = store.validity_checkpoint("masked", &base).unwrap();
        assert_eq!(reopened.read_rows(32..64).unwrap(), masked.rows(32..64));
        assert!(
            unmasked.read().is_ok(),
            "the handle without a bitmap reads only the base entry"
        );
        assert!(
            store.scene_checkpoint("masked").is_none(),
            "an entry of another kind reads as absent"
        );
        let path = store
            .work_dir()
            .join(CHECKPOINTS_DIR)
            .join("prepared-000000");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(store.scene_checkpoint("prepared-000000").is_none());
    }

    #[test]
    fn a_truncated_checkpoint_reads_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let stats = vec![RegionStats {
            valid_px: 7,
            changed_px: 3,
            magnitude_sum: 1 << 40,
            histogram: [2; HISTOGRAM_BINS],
        }];
        store
            .put_checkpoint("c", |w| w.region_stats(&stats))
            .unwrap();
        assert_eq!(store.checkpoint("c", |r| r.region_stats()), Some(stats));
        let path = store.work_dir().join(CHECKPOINTS_DIR).join("c");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(store.checkpoint("c", |r| r.region_stats()), None);
        assert!(store.checkpoint("missing", |r| r.u32()).is_none());
    }
}
