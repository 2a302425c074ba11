//! An archive on disk: the dated scenes of one site in a directory, found, ordered and checked before any
//! pixel is decoded.

use crate::acquisition::Acquisition;
use crate::error::{Error, Result};
use crate::geotiff::GeoReference;
use crate::scene::{self, DecodeOptions, Scene, SceneFile, SceneFormat};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

const SCENE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "tif", "tiff"];
const MASK_SUFFIX: &str = ".mask.png";

/// One scene file, its acquisition time and its validity mask, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub acquired: Acquisition,
    pub image: PathBuf,
    pub mask: Option<PathBuf>,
}

impl ArchiveEntry {
    /// Decodes the scene as `options` say and attaches its mask.
    pub fn load(&self, options: &DecodeOptions) -> Result<SceneFile> {
        let mut file = SceneFile::read(&self.image, options)?;
        if let Some(mask) = &self.mask {
            file.scene.set_validity_mask(mask)?;
        }
        Ok(file)
    }

    /// The scene as [`ArchiveEntry::load`] decodes it; a failure names the file at fault.
    pub fn decode(&self, options: &DecodeOptions) -> Result<Scene, SceneFailure> {
        self.load(options)
            .map(|file| file.scene)
            .map_err(|error| SceneFailure::new(&self.image, error))
    }
}

/// A scene left out of a run: the file at fault (the scene or its mask) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SceneFailure {
    pub file: PathBuf,
    pub reason: String,
}

impl SceneFailure {
    pub fn new(image: &Path, error: Error) -> SceneFailure {
        let (file, reason) = match error {
            Error::Input { path, message } => (path, message),
            other => (image.to_path_buf(), other.to_string()),
        };
        SceneFailure { file, reason }
    }
}

impl fmt::Display for SceneFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// The scenes of an archive that could be used, all of one format, and those that could not; each scene
/// decoded ([`Scene`]) or as the work store holds it ([`crate::store::StoredScene`]).
#[derive(Debug)]
pub struct LoadedScenes<S = Scene> {
    /// Each scene with its index in [`Archive::entries`], in acquisition order.
    pub scenes: Vec<(usize, S)>,
    /// In acquisition order.
    pub failures: Vec<SceneFailure>,
    /// Where the scenes lie on the ground, the same for all of them; `None` when not georeferenced.
    pub georeference: Option<GeoReference>,
}

/// The scenes of an archive in acquisition order.
#[derive(Clone, Debug)]
pub struct Archive {
    pub dir: PathBuf,
    pub entries: Vec<ArchiveEntry>,
    /// How every scene is decoded (bands picked).
    pub decode: DecodeOptions,
}

impl Archive {
    /// Lists the scenes of `dir`: every PNG, JPEG or TIFF except `*.mask.png`, each of which must carry an
    /// acquisition date in its name, and every folder whose name carries one (a band stack); masks are
    /// matched to scenes by stem (a folder's whole name). Other files and folders are ignored.
    pub fn scan(dir: &Path) -> Result<Archive> {
        let listing = std::fs::read_dir(dir)
            .map_err(|e| Error::input(dir, format!("cannot list archive: {e}")))?;
        let mut scenes = Vec::new();
        let mut masks = HashMap::new();
        for item in listing {
            let path = item
                .map_err(|e| Error::input(dir, format!("cannot list archive: {e}")))?
                .path();
            // A link to nowhere (a file of a git-annex archive not fetched) is a scene that will fail
            // to load; pipes and devices are not scenes.
            let dangling = path.is_symlink() && !path.exists();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // A folder named by an acquisition date is a band stack; other folders are not scenes.
            if path.is_dir() {
                if let Some(acquired) = Acquisition::from_stem(&name) {
                    scenes.push((name, acquired, path));
                }
                continue;
            }
            if !path.is_file() && !dangling {
                continue;
            }
            if let Some(stem) = name.strip_suffix(MASK_SUFFIX) {
                masks.insert(stem.to_owned(), path);
                continue;
            }
            let extension = path
                .extension()
                .unwrap_or_default()
                .to_string_lossy()
                .to_lowercase();
            if !SCENE_EXTENSIONS.contains(&extension.as_str()) {
                continue;
            }
            let stem = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let acquired = Acquisition::from_stem(&stem).ok_or_else(|| {
                Error::input(
                    &path,
                    "file name carries no acquisition date (expected 2023-10-19 or 20231019, optionally followed by T0130 or _013045)",
                )
            })?;
            scenes.push((stem, acquired, path));
        }
        if scenes.is_empty() {
            return Err(Error::input(
                dir,
                "archive holds no scenes (PNG, JPEG or TIFF files, or folders of band files, named by \
                 acquisition date)",
            ));
        }
        scenes.sort_by(|a, b| (a.1.instant(), &a.2).cmp(&(b.1.instant(), &b.2)));
        if let Some(pair) = scenes
            .windows(2)
            .find(|w| w[0].1.instant() == w[1].1.instant())
        {
            return Err(Error::Conflict {
                first: pair[0].2.clone(),
                second: pair[1].2.clone(),
                message: format!("two scenes share the acquisition time {}", pair[0].1),
            });
        }
        let entries: Vec<ArchiveEntry> = scenes
            .into_iter()
            .map(|(stem, acquired, image)| ArchiveEntry {
                acquired,
                mask: masks.remove(&stem),
                image,
            })
            .collect();
        if let Some(orphan) = masks.into_values().min() {
            return Err(Error::input(
                orphan,
                "validity mask has no scene of the same name",
            ));
        }
        Ok(Archive {
            dir: dir.to_path_buf(),
            entries,
            decode: DecodeOptions::default(),
        })
    }

    /// The archive with its scenes decoded as `decode` says.
    pub fn with_decode_options(self, decode: DecodeOptions) -> Archive {
        Archive { decode, ..self }
    }

    /// Where the archive's scenes lie on the ground, read from their tags alone: the georeferencing most
    /// of them share (scenes that cannot be read are passed over, as [`Archive::load`] will leave them
    /// out); `None` when they are not georeferenced.
    pub fn georeference(&self) -> Option<GeoReference> {
        let read = self
            .entries
            .iter()
            .map(|entry| scene::georeference_of(&entry.image).unwrap_or(None));
        most_common(read, same_place).and_then(|(georeference, _)| georeference)
    }

    /// Decodes every scene, in parallel, and keeps those the run can use ([`Archive::select`]).
    pub fn load(&self) -> Result<LoadedScenes> {
        let decoded = self
            .entries
            .par_iter()
            .map(|entry| entry.decode(&self.decode))
            .collect();
        self.select(decoded, |scene| scene.format)
    }

    /// Of the outcomes of decoding every entry, in order: the scenes the run can use. A scene that cannot
    /// be read or decoded (or whose mask cannot), or whose format or georeferencing (read from its tags)
    /// differs from the archive's, is a failure, not an error: the run goes on without it. The archive's
    /// format and georeferencing are those most scenes share, the earliest scene's on a tie. An error when
    /// no scene can be used.
    pub fn select<S>(
        &self,
        decoded: Vec<Result<S, SceneFailure>>,
        format_of: impl Fn(&S) -> SceneFormat,
    ) -> Result<LoadedScenes<S>> {
        let layouts: Vec<Option<Layout>> = self
            .entries
            .iter()
            .zip(&decoded)
            .map(|(entry, scene)| {
                let scene = scene.as_ref().ok()?;
                Some(Layout {
                    format: format_of(scene),
                    georeference: scene::georeference_of(&entry.image).unwrap_or(None),
                })
            })
            .collect();
        let layout = most_common(layouts.iter().flatten(), |a, b| a.same(b));
        let mut loaded = LoadedScenes {
            scenes: Vec::new(),
            failures: Vec::new(),
            georeference: layout.and_then(|(l, _)| l.georeference.clone()),
        };
        for (index, ((entry, scene), scene_layout)) in
            self.entries.iter().zip(decoded).zip(&layouts).enumerate()
        {
            let scene = scene.and_then(|scene| match (layout, scene_layout) {
                (Some((layout, count)), Some(scene_layout)) if !layout.same(scene_layout) => {
                    Err(SceneFailure {
                        file: entry.image.clone(),
                        reason: format!(
                            "scene is {scene_layout} but the archive's scenes are {layout} ({count} of {})",
                            self.entries.len()
                        ),
                    })
                }
                _ => Ok(scene),
            });
            match scene {
                Ok(scene) => loaded.scenes.push((index, scene)),
                Err(failure) => loaded.failures.push(failure),
            }
        }
        if loaded.scenes.is_empty() {
            let first = loaded
                .failures
                .first()
                .map_or_else(String::new, |f| format!("; the first: {f}"));
            return Err(Error::input(
                &self.dir,
                format!(
                    "none of the archive's {} scenes could be read{first}",
                    self.entries.len()
                ),
            ));
        }
        Ok(loaded)
    }
}

/// What the scenes of an archive must share: the format and the georeferencing.
struct Layout {
    format: SceneFormat,
    georeference: Option<GeoReference>,
}

impl Layout {
    fn same(&self, other: &Layout) -> bool {
        self.format == other.format && same_place(&self.georeference, &other.georeference)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.georeference {
            Some(georeference) => write!(f, "{}, georeferenced in {georeference}", self.format),
            None => write!(f, "{}", self.format),
        }
    }
}

/// Whether two scenes lie at the same place: both georeferenced on the same grid, or neither.
fn same_place(a: &Option<GeoReference>, b: &Option<GeoReference>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same_grid(b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// The first of the items most of which are `same` as it, and how many are.
fn most_common<T>(
    items: impl Iterator<Item = T>,
    same: impl Fn(&T, &T) -> bool,
) -> Option<(T, usize)> {
    let mut counts: Vec<(T, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(known, _)| same(known, &item)) {
            Some((_, count)) => *count += 1,
            None => counts.push((item, 1)),
        }
    }
    // The first of the most common: max_by_key would take the last on a tie.
    let most = counts.iter().map(|&(_, count)| count).max()?;
    counts.into_iter().find(|&(_, count)| count == most)
}
