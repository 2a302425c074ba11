//! Where a run keeps its scenes between passes over them: held in memory, or in the work store on disk and
//! read back a scene, or a stripe of rows of each, at a time, so that a run's memory holds a few scenes
//! whatever the archive's length.

use crate::error::Result;
use crate::kernel::params::MAX_SMOOTHING_RADIUS;
use crate::kernel::{ChangeKernel, Radiometry};
use crate::scene::{STRIPE_ROW_ALIGNMENT, Scene, SceneFormat};
use crate::store::{Reader, Store, StoredScene, Writer};
use crate::working_memory;
use rayon::prelude::*;
use std::borrow::Cow;
use std::ops::Range;

/// The most bytes of stored scenes a background reads at once: the stripe of rows of every scene of its
/// stack (at least [`STRIPE_ROW_ALIGNMENT`] rows, however deep the stack).
const STACK_STRIPE_BYTES: usize = 256 << 20;

/// The most bytes of a stored scene [`Shelf::gather_each`] reads at once (at least
/// [`STRIPE_ROW_ALIGNMENT`] rows).
const GATHER_STRIPE_BYTES: usize = 16 << 20;

/// Test hook: with this variable set to a number of bytes, backgrounds and gatherings of stored scenes read
/// stripes of at most that many bytes (or the least stripe), so that runs through the binary can be made to
/// use several.
const STRIPE_BYTES_HOOK: &str = "PORTWATCH_TEST_STACK_STRIPE_BYTES";

/// Rows a comparison stripe reads either side of its own for the smoothing window: whole words of 32
/// pixels, and at least the widest window's reach.
const STRIPE_HALO_ROWS: u32 = STRIPE_ROW_ALIGNMENT;
const _: () = assert!(STRIPE_HALO_ROWS >= MAX_SMOOTHING_RADIUS);

/// Rows of the scenes a comparison holds in its slots at once, and those of them it counts
/// ([`ChangeKernel::compare`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stripe {
    pub held: Range<u32>,
    pub counted: Range<u32>,
}

/// Scenes of one kind (the archive's, the backgrounds of each date), in order.
pub struct Shelf<'a> {
    items: Vec<Item>,
    /// With a store, each scene put on the shelf is written there as the checkpoint `{name}-{index}`.
    store: Option<(&'a Store, &'static str)>,
    /// The most bytes of stored scenes a background reads at once ([`STACK_STRIPE_BYTES`]).
    stripe_bytes: usize,
}

/// How what a change said of a scene is written to the store and read back.
pub type Note<T> = (fn(&T, &mut Writer), fn(&mut Reader) -> Option<T>);

/// What a change may alter of a scene, and so what the store keeps of the changed scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Samples and validity.
    Scene,
    /// Only the validity: the samples stay those of the scene before the change.
    Validity,
}

enum Item {
    Held(Scene),
    Stored(StoredScene),
}

impl Item {
    fn format(&self) -> SceneFormat {
        match self {
            Item::Held(scene) => scene.format,
            Item::Stored(stored) => stored.format,
        }
    }

    fn scene(&self) -> Result<Cow<'_, Scene>> {
        Ok(match self {
            Item::Held(scene) => Cow::Borrowed(scene),
            Item::Stored(stored) => Cow::Owned(stored.read()?),
        })
    }
}

impl<'a> Shelf<'a> {
    /// Scenes held in memory.
    pub fn held(scenes: Vec<Scene>) -> Shelf<'a> {
        Shelf {
            items: scenes.into_iter().map(Item::Held).collect(),
            store: None,
            stripe_bytes: STACK_STRIPE_BYTES,
        }
    }

    /// Scenes of `store`; those put on the shelf later are written there under `name`.
    pub fn stored(store: &'a Store, name: &'static str, scenes: Vec<StoredScene>) -> Shelf<'a> {
        Shelf {
            items: scenes.into_iter().map(Item::Stored).collect(),
            store: Some((store, name)),
            stripe_bytes: std::env::var(STRIPE_BYTES_HOOK)
                .ok()
                .and_then(|bytes| bytes.parse().ok())
                .unwrap_or(STACK_STRIPE_BYTES),
        }
    }

    /// An empty shelf of the same kind as this one (held, or stored under `name`).
    pub fn empty_like(&self, name: &'static str) -> Shelf<'a> {
        Shelf {
            items: Vec::new(),
            store: self.store.map(|(store, _)| (store, name)),
            stripe_bytes: self.stripe_bytes,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The format of the shelf's first scene (they all share it).
    pub fn format(&self) -> SceneFormat {
        self.items[0].format()
    }

    /// The bytes of each scene's samples; 0 for an empty shelf.
    fn scene_bytes(&self) -> u64 {
        self.items
            .first()
            .map_or(0, |item| item.format().byte_count())
    }

    /// A copy of the scene `index`.
    pub fn get(&self, index: usize) -> Result<Scene> {
        Ok(self.items[index].scene()?.into_owned())
    }

    /// A copy of the rows `rows` of scene `index`.
    pub fn rows(&self, index: usize, rows: Range<u32>) -> Result<Scene> {
        let whole = rows == (0..self.format().height);
        Ok(match &self.items[index] {
            Item::Held(scene) if whole => scene.clone(),
            Item::Held(scene) => scene.rows(rows),
            Item::Stored(stored) => stored.read_rows(rows)?,
        })
    }

    /// The stripes in which comparisons of the shelf's scenes go, `slots` of them held at once: one of
    /// every row when the scenes are held anyway, else as many rows as keep `slots` stripes, halos
    /// included, within the stripe budget ([`STACK_STRIPE_BYTES`]).
    pub fn comparison_stripes(&self, slots: usize) -> Vec<Stripe> {
        let height = self.format().height;
        let held = self.items.iter().all(|item| matches!(item, Item::Held(_)));
        let rows = match held {
            true => height,
            false => stripe_rows(self.format(), slots, self.stripe_bytes)
                .saturating_sub(2 * STRIPE_ROW_ALIGNMENT)
                .max(STRIPE_ROW_ALIGNMENT),
        };
        (0..height)
            .step_by(rows as usize)
            .map(|first| {
                let counted = first..(first + rows).min(height);
                Stripe {
                    held: first.saturating_sub(STRIPE_HALO_ROWS)
                        ..(counted.end + STRIPE_HALO_ROWS).min(height),
                    counted,
                }
            })
            .collect()
    }

    /// Adds the scene `make` makes at the end of the shelf; with a store, the one an earlier attempt of the
    /// run added there, if any, without making it again.
    pub fn push(&mut self, make: impl FnOnce() -> Result<Scene>) -> Result<()> {
        let index = self.items.len();
        let earlier = self
            .store
            .and_then(|(store, name)| store.scene_checkpoint(&entry_name(name, index)));
        let item = match earlier {
            Some(scene) => Item::Stored(scene),
            None => self.shelve(index, make()?)?,
        };
        self.items.push(item);
        Ok(())
    }

    /// `finish` of what `add` gathers of each scene, starting from `start(format)`, in parallel: a held
    /// scene is handed to `add` whole, a stored one a stripe of rows (of at most [`GATHER_STRIPE_BYTES`])
    /// at a time, with the scene's row where the stripe starts, so that memory holds a stripe and what is
    /// gathered of a scene per thread.
    pub fn gather_each<G, T: Send>(
        &self,
        start: impl Fn(SceneFormat) -> G + Sync,
        add: impl Fn(&mut G, &Scene, u32) + Sync,
        finish: impl Fn(G) -> T + Sync,
    ) -> Result<Vec<T>> {
        self.items
            .par_iter()
            .map(|item| {
                let format = item.format();
                let mut gathered = start(format);
                match item {
                    Item::Held(scene) => add(&mut gathered, scene, 0),
                    Item::Stored(stored) => {
                        let bytes = GATHER_STRIPE_BYTES.min(self.stripe_bytes);
                        let rows = stripe_rows(format, 1, bytes);
                        for first in (0..format.height).step_by(rows as usize) {
                            let stripe =
                                stored.read_rows(first..(first + rows).min(format.height))?;
                            add(&mut gathered, &stripe, first);
                        }
                    }
                }
                Ok(finish(gathered))
            })
            .collect()
    }

    /// Changes every scene by `change`, in parallel on as many scenes at once as
    /// [`working_memory::bounded`] allows, returning what it said of each. With a store, each
    /// changed scene is kept there with what was said of it (written by `note`), so that a later attempt of
    /// the run takes the scenes an earlier one changed from there rather than changing them again. `kept`
    /// says what of a changed scene the store writes: only its validity when the change keeps the samples.
    pub fn update_each<T: Send>(
        &mut self,
        change: impl Fn(&mut Scene) -> Result<T> + Sync,
        kept: Kept,
        note: &Note<T>,
    ) -> Result<Vec<T>> {
        let shelf = &*self;
        let updated: Vec<(Item, T)> =
            working_memory::bounded((0..self.items.len()).into_par_iter(), self.scene_bytes())
                .map(|index| shelf.changed(index, &change, kept, note))
                .collect::<Result<_>>()?;
        let (items, said) = updated.into_iter().unzip();
        self.items = items;
        Ok(said)
    }

    /// Changes the scene `index` by `change`, returning what it said, as [`Shelf::update_each`] does.
    pub fn update<T>(
        &mut self,
        index: usize,
        change: impl FnOnce(&mut Scene) -> Result<T>,
        kept: Kept,
        note: &Note<T>,
    ) -> Result<T> {
        let (item, said) = self.changed(index, change, kept, note)?;
        self.items[index] = item;
        Ok(said)
    }

    /// The scene `index` changed by `change` as the shelf keeps it, and what `change` said: taken from the
    /// store when an earlier attempt left both there.
    fn changed<T>(
        &self,
        index: usize,
        change: impl FnOnce(&mut Scene) -> Result<T>,
        kept: Kept,
        note: &Note<T>,
    ) -> Result<(Item, T)> {
        let Some((store, name)) = self.store else {
            let mut scene = self.items[index].scene()?.into_owned();
            let said = change(&mut scene)?;
            return Ok((Item::Held(scene), said));
        };
        if let Some(earlier) = self.earlier_change(index, kept, note) {
            return Ok(earlier);
        }
        let entry = entry_name(name, index);
        let mut scene = self.items[index].scene()?.into_owned();
        let said = change(&mut scene)?;
        let stored = match self.change_base(index, kept) {
            Some(base) => store.put_validity_checkpoint(&entry, base, &scene)?,
            None => store.put_scene_checkpoint(&entry, &scene)?,
        };
        store.put_checkpoint(&format!("{entry}.note"), |w| (note.0)(&said, w))?;
        Ok((Item::Stored(stored), said))
    }

    /// The scene a change keeping only the validity is stored against: the stored scene `index`.
    fn change_base(&self, index: usize, kept: Kept) -> Option<&StoredScene> {
        match (&self.items[index], kept) {
            (Item::Stored(base), Kept::Validity) => Some(base),
            _ => None,
        }
    }

    /// The scene `index` as an earlier attempt of the run changed it, and what the change said, when the
    /// store holds both.
    fn earlier_change<T>(
        &self,
        index: usize,
        kept: Kept,
        (_, read): &Note<T>,
    ) -> Option<(Item, T)> {
        let (store, name) = self.store?;
        let entry = entry_name(name, index);
        let scene = match self.change_base(index, kept) {
            Some(base) => store.validity_checkpoint(&entry, base),
            None => store.scene_checkpoint(&entry),
        }?;
        let said = store.checkpoint(&format!("{entry}.note"), read)?;
        (scene.format == self.format()).then_some((Item::Stored(scene), said))
    }

    /// What [`Shelf::update_each`] would return when an earlier attempt of the run changed every scene and
    /// the store holds them all, the shelf then holding them as changed; `None`, leaving the shelf as it
    /// is, when a scene is still to change, so that whatever a change needs is made only then.
    pub fn take_earlier_changes<T>(&mut self, kept: Kept, note: &Note<T>) -> Option<Vec<T>> {
        let earlier: Vec<(Item, T)> = (0..self.items.len())
            .map(|index| self.earlier_change(index, kept, note))
            .collect::<Option<_>>()?;
        let (items, said) = earlier.into_iter().unzip();
        self.items = items;
        Some(said)
    }

    /// The kernel's background ([`ChangeKernel::background`]) of the scenes `stack` names, each with its
    /// correction: in one pass over held scenes, in stripes of rows read from the store otherwise.
    pub fn background(
        &self,
        kernel: &mut dyn ChangeKernel,
        stack: &[(usize, Radiometry)],
        nodata: Option<u32>,
    ) -> Result<Scene> {
        let format = self.format();
        let stored = stack
            .iter()
            .any(|&(index, _)| matches!(self.items[index], Item::Stored(_)));
        let rows = if stored {
            stripe_rows(format, stack.len(), self.stripe_bytes)
        } else {
            format.height
        };
        let mut background_of = |rows: Range<u32>| {
            let scenes: Vec<Cow<Scene>> = stack
                .par_iter()
                .map(|&(index, _)| match &self.items[index] {
                    Item::Held(scene) if rows.len() == format.height as usize => {
                        Ok(Cow::Borrowed(scene))
                    }
                    Item::Held(scene) => Ok(Cow::Owned(scene.rows(rows.clone()))),
                    Item::Stored(stored) => Ok(Cow::Owned(stored.read_rows(rows.clone())?)),
                })
                .collect::<Result<_>>()?;
            let corrected: Vec<(&Scene, Radiometry)> = scenes
                .iter()
                .zip(stack)
                .map(|(scene, &(_, radiometry))| (&**scene, radiometry))
                .collect();
            kernel.background(&corrected, nodata)
        };
        if rows >= format.height {
            return background_of(0..format.height);
        }
        let stripes = (0..format.height)
            .step_by(rows as usize)
            .map(|first| background_of(first..(first + rows).min(format.height)));
        Scene::from_stripes(format, stripes)
    }

    /// `scene` as the shelf keeps its item `index`.
    fn shelve(&self, index: usize, scene: Scene) -> Result<Item> {
        Ok(match self.store {
            Some((store, name)) => {
                Item::Stored(store.put_scene_checkpoint(&entry_name(name, index), &scene)?)
            }
            None => Item::Held(scene),
        })
    }
}

fn entry_name(name: &str, index: usize) -> String {
    format!("{name}-{index:06}")
}

/// Rows of a stripe of a stored stack of `scenes` scenes: as many as `stripe_bytes` allows, in whole
/// multiples of [`STRIPE_ROW_ALIGNMENT`].
fn stripe_rows(format: SceneFormat, scenes: usize, stripe_bytes: usize) -> u32 {
    let row_bytes =
        format.width as usize * format.bands as usize * format.bits_per_sample as usize / 8;
    let rows = stripe_bytes / (row_bytes * scenes).max(1);
    let aligned = rows as u32 / STRIPE_ROW_ALIGNMENT * STRIPE_ROW_ALIGNMENT;
    aligned.max(STRIPE_ROW_ALIGNMENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::cpu::CpuKernel;
    use crate::kernel::params::all_set_bitmap;
    use crate::rasterize::LabelRaster;
    use crate::regions::RegionSet;

    /// Scenes of 16-bit samples, 3 bands, an odd width, some pixels invalid.
    fn scenes(count: usize, width: u32, height: u32) -> Vec<Scene> {
        (0..count)
            .map(|seed| {
                let samples: Vec<u16> = (0..width * height * 3)
                    .map(|i| ((i as usize * 7919 + seed * 104_729) % 65_521) as u16)
                    .collect();
                let mut scene = Scene::from_u16(width, height, 3, &samples);
                let mut validity = all_set_bitmap((width * height) as usize);
                let word = seed % validity.len();
                validity[word] &= !(0b1011 << (seed % 28));
                scene.validity = Some(validity);
                scene
            })
            .collect()
    }

    /// What a change of the shelf's scenes said of each: a number.
    const NUMBER_NOTE: Note<u64> = (|index, w| w.u64(*index), |r| r.u64());

    #[test]
    fn changes_an_earlier_attempt_stored_are_taken_only_when_every_scene_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let originals = scenes(3, 40, 33);
        let decoded: Vec<StoredScene> = (0..originals.len())
            .map(|index| {
                let name = format!("decoded-{index}");
                store
                    .put_scene_checkpoint(&name, &originals[index])
                    .unwrap()
            })
            .collect();
        let shelve = || Shelf::stored(&store, "test", decoded.clone());
        let clear_first_pixel = |scene: &mut Scene| {
            scene.validity.as_mut().unwrap()[0] &= !1;
            Ok(())
        };
        let mut changed = shelve();
        assert!(
            changed
                .take_earlier_changes(Kept::Validity, &NUMBER_NOTE)
                .is_none()
        );
        let said = changed
            .update_each(
                |scene| {
                    clear_first_pixel(scene)?;
                    Ok(u64::from(scene.format.width))
                },
                Kept::Validity,
                &NUMBER_NOTE,
            )
            .unwrap();
        assert_eq!(said, [40, 40, 40]);
        let mut resumed = shelve();
        assert_eq!(
            resumed.take_earlier_changes(Kept::Validity, &NUMBER_NOTE),
            Some(vec![40, 40, 40])
        );
        for index in 0..3 {
            assert_eq!(resumed.get(index).unwrap(), changed.get(index).unwrap());
            assert!(!resumed.get(index).unwrap().is_valid(0, None));
        }
        // With one scene's note gone, nothing is taken and the shelf keeps the scenes unchanged.
        std::fs::remove_file(dir.path().join("work/checkpoints/test-000001.note")).unwrap();
        let mut partly = shelve();
        assert!(
            partly
                .take_earlier_changes(Kept::Validity, &NUMBER_NOTE)
                .is_none()
        );
        assert_eq!(partly.get(1).unwrap(), originals[1]);
    }

    #[test]
    fn a_background_of_stored_scenes_in_stripes_equals_one_pass_over_held_scenes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let (width, height) = (33, 101);
        let scenes = scenes(5, width, height);
        let format = scenes[0].format;
        let regions = RegionSet {
            source: "regions.geojson".into(),
            regions: Vec::new(),
            map_crs: None,
        };
        let labels = LabelRaster::rasterize(&regions, width, height).unwrap();
        let mut kernel = CpuKernel::new(format, labels);
        let stack: Vec<(usize, Radiometry)> = (0..scenes.len())
            .map(|index| {
                let mut radiometry = Radiometry::IDENTITY;
                radiometry.gain[0] = 4096 + 40 * index as u32;
                (index, radiometry)
            })
            .collect();
        let held = Shelf::held(scenes.clone());
        let one_pass = held.background(&mut kernel, &stack, Some(7)).unwrap();
        let mut stored = Shelf::stored(&store, "test", Vec::new());
        for scene in scenes {
            stored.push(|| Ok(scene)).unwrap();
        }
        // Stripes of 32 rows: four stripes, the last of 5 rows.
        stored.stripe_bytes = 32 * width as usize * 3 * 2 * stack.len();
        assert_eq!(stripe_rows(format, stack.len(), stored.stripe_bytes), 32);
        let striped = stored.background(&mut kernel, &stack, Some(7)).unwrap();
        assert_eq!(striped, one_pass);
        for index in 0..stored.len() {
            assert_eq!(stored.get(index).unwrap(), held.get(index).unwrap());
        }
    }
}
