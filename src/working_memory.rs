//! How many scenes a per-scene stage (decoding, cloud masking) works on at once: one
//! per rayon thread, unless that many scenes would not fit a working-memory budget. Very large scenes are
//! then taken one or a few at a time, so that a run's memory does not grow with the machine's thread
//! count, while small scenes keep every thread busy.

use rayon::iter::{IndexedParallelIterator, MinLen};

/// The bytes of scenes (as decoded) that the per-scene stages work on at once. Such a stage holds a small
/// multiple of its scenes' size: decoding holds the decoded image and its packed samples, cloud masking the
/// scene and the reference beside it, which the run holds anyway. With 1 GiB, scenes of
/// 10000x10000 px, 4 bands, 16 bits (800 MB) go one at a time, which keeps a run of them under its 2 GiB
/// target, while 4096x4096 RGBA8 scenes (64 MiB) still go 16 at once, more than there are threads on the
/// machines portwatch runs on.
pub const SCENE_BYTES_AT_ONCE: u64 = 1 << 30;

/// How many scenes of `scene_bytes` each to work on at once on `threads` threads: as many as
/// [`SCENE_BYTES_AT_ONCE`] holds, at least one, at most `threads`.
pub fn scenes_at_once(scene_bytes: u64, threads: usize) -> usize {
    let fit = usize::try_from(SCENE_BYTES_AT_ONCE / scene_bytes.max(1)).unwrap_or(usize::MAX);
    fit.clamp(1, threads.max(1))
}

/// `scenes`, a parallel iterator with an item per scene of `scene_bytes` each, such that at most
/// [`scenes_at_once`] of them are worked on at once on the current rayon pool: rayon then cuts it into at
/// most that many pieces, each worked on one scene after the other. Unchanged when every thread may have
/// a scene.
pub fn bounded<I: IndexedParallelIterator>(scenes: I, scene_bytes: u64) -> MinLen<I> {
    let threads = rayon::current_num_threads();
    let at_once = scenes_at_once(scene_bytes, threads);
    // Rayon splits a piece in halves only while both are at least this long.
    let shortest_piece = match at_once < threads {
        true => scenes.len().div_ceil(at_once),
        false => 1,
    };
    scenes.with_min_len(shortest_piece)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn huge_scenes_go_one_at_a_time_and_small_ones_on_every_thread() {
        let huge = 10_000 * 10_000 * 4 * 2;
        assert_eq!(scenes_at_once(huge, 2), 1);
        assert_eq!(scenes_at_once(huge, 64), 1);
        assert_eq!(scenes_at_once(2 * SCENE_BYTES_AT_ONCE, 8), 1);
        let small = 2048 * 2048 * 4;
        assert_eq!(scenes_at_once(small, 2), 2);
        assert_eq!(scenes_at_once(small, 16), 16);
        assert_eq!(scenes_at_once(small, 1024), 64);
        assert_eq!(scenes_at_once(SCENE_BYTES_AT_ONCE / 3, 16), 3);
        assert_eq!(scenes_at_once(0, 4), 4);
        assert_eq!(scenes_at_once(small, 0), 1);
    }

    /// The most items of `count`, each of `scene_bytes`, that a pool of `threads` threads works on at
    /// once through [`bounded`].
    fn most_at_once(threads: usize, count: usize, scene_bytes: u64) -> usize {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (working, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        pool.install(|| {
            bounded((0..count).into_par_iter(), scene_bytes).for_each(|_| {
                let now = working.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                working.fetch_sub(1, Ordering::SeqCst);
            })
        });
        most.into_inner()
    }

    #[test]
    fn bounded_iterators_work_on_at_most_what_fits() {
        assert_eq!(most_at_once(4, 24, SCENE_BYTES_AT_ONCE), 1);
        assert!(most_at_once(4, 24, SCENE_BYTES_AT_ONCE / 2) <= 2);
        assert!(most_at_once(4, 7, SCENE_BYTES_AT_ONCE / 3) <= 3);
    }
}
