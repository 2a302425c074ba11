//! The occupied stretch of a region along its long axis, from the kernel's per-region profile: how a
//! vessel's length is read off a berth.

use crate::kernel::RegionProfile;

/// A profile bin (a one-pixel slice across the region) is occupied when at least this fraction of its
/// valid pixels changed: a hull covers part of a berth's width, and its shadow or wake may cover more.
pub const OCCUPIED_BIN_FRACTION: f64 = 0.15;
/// Unoccupied bins a stretch may bridge: a hatch or a dark deck stripe does not split a ship in two.
pub const MAX_GAP_BINS: usize = 2;
/// A bin is in view when at least this fraction of its pixels is valid: a cloud's edge crossing a
/// berth can hide the hull in a bin and leave the water beside it.
pub const IN_VIEW_FRACTION: f64 = 0.9;

/// A run of occupied bins along a region's axis, in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stretch {
    pub start: u32,
    pub length: u32,
    /// Whether the start and the end were seen: the bin beyond is in view (at least
    /// [`IN_VIEW_FRACTION`] of its pixels valid) or beyond the region. An end at a cloud may be the
    /// cloud's edge, not the ship's.
    pub ends_seen: [bool; 2],
}

impl Stretch {
    pub fn end(&self) -> u32 {
        self.start + self.length
    }

    pub fn both_ends_seen(&self) -> bool {
        self.ends_seen == [true, true]
    }
}

/// The longest run of occupied bins of `profile`, bridging gaps of at most [`MAX_GAP_BINS`] unoccupied
/// bins (the first such run on a tie); of length 0 when no bin is occupied. `bin_pixels` holds each
/// bin's pixel count, to tell which ends were seen.
pub fn longest_stretch(profile: &RegionProfile, bin_pixels: &[u32]) -> Stretch {
    let occupied = profile
        .valid
        .iter()
        .zip(&profile.changed)
        .map(|(&valid, &changed)| {
            valid > 0 && f64::from(changed) >= OCCUPIED_BIN_FRACTION * f64::from(valid)
        });
    let mut longest = Stretch::default();
    // The first and last occupied bins of the run in hand.
    let mut run: Option<(usize, usize)> = None;
    for (bin, occupied) in occupied.enumerate() {
        if !occupied {
            continue;
        }
        run = match run {
            Some((first, last)) if bin - last <= MAX_GAP_BINS + 1 => Some((first, bin)),
            _ => Some((bin, bin)),
        };
        let (first, last) = run.expect("set above");
        if last - first + 1 > longest.length as usize {
            longest = Stretch {
                start: first as u32,
                length: (last - first + 1) as u32,
                ends_seen: [false; 2],
            };
        }
    }
    let in_view = |bin: Option<usize>| match bin {
        Some(bin) if bin < bin_pixels.len() => {
            f64::from(profile.valid[bin]) >= IN_VIEW_FRACTION * f64::from(bin_pixels[bin])
        }
        _ => true,
    };
    let start = longest.start as usize;
    longest.ends_seen = [
        in_view(start.checked_sub(1)),
        in_view(Some(longest.end() as usize)),
    ];
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(changed: &[u32]) -> RegionProfile {
        RegionProfile {
            valid: vec![10; changed.len()],
            changed: changed.to_vec(),
        }
    }

    #[test]
    fn runs_bridge_short_gaps_only() {
        let stretch = |changed: &[u32]| {
            let s = longest_stretch(&profile(changed), &vec![10; changed.len()]);
            (s.start, s.length)
        };
        assert_eq!(stretch(&[0, 0, 0]), (0, 0));
        assert_eq!(stretch(&[0, 5, 0]), (1, 1));
        assert_eq!(stretch(&[2, 2, 0, 0, 2, 0, 0, 0, 2]), (0, 5));
        assert_eq!(stretch(&[2, 1, 1, 2, 2, 2]), (0, 6));
        assert_eq!(stretch(&[9, 0, 0, 0, 9, 9]), (4, 2));
    }

    #[test]
    fn bins_without_valid_pixels_are_not_occupied() {
        let profile = RegionProfile {
            valid: vec![0, 10, 0],
            changed: vec![0, 10, 0],
        };
        assert_eq!(longest_stretch(&profile, &[10, 10, 10]).length, 1);
    }

    #[test]
    fn an_end_against_a_cloud_is_not_seen() {
        // Bins 4 and 5 partly under a cloud; the region's ends count as seen.
        let profile = RegionProfile {
            valid: vec![10, 10, 10, 10, 8, 0],
            changed: vec![9, 9, 9, 9, 0, 0],
        };
        let stretch = longest_stretch(&profile, &[10; 6]);
        assert_eq!((stretch.start, stretch.length), (0, 4));
        assert_eq!(stretch.ends_seen, [true, false]);
        let clear = RegionProfile {
            valid: vec![10; 6],
            changed: vec![0, 9, 9, 9, 9, 9],
        };
        assert_eq!(longest_stretch(&clear, &[10; 6]).ends_seen, [true, true]);
    }
}
