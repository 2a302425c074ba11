//! The occupied stretch of a region along its long axis, from the kernel's per-region profile: how a
//! vessel's length is read off a berth.

use crate::kernel::RegionProfile;

/// A profile bin (a one-pixel slice across the region) is occupied when at least this fraction of its
/// valid pixels changed: a hull covers part of a berth's width, and its shadow or wake may cover more.
pub const OCCUPIED_BIN_FRACTION: f64 = 0.15;
/// Unoccupied bins a stretch may bridge: a hatch or a dark deck stripe does not split a ship in two.
pub const MAX_GAP_BINS: usize = 2;

/// A run of occupied bins along a region's axis, in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stretch {
    pub start: u32,
    pub length: u32,
}

impl Stretch {
    pub fn end(&self) -> u32 {
        self.start + self.length
    }
}

/// The longest run of occupied bins of `profile`, bridging gaps of at most [`MAX_GAP_BINS`] unoccupied
/// bins (the first such run on a tie); of length 0 when no bin is occupied.
pub fn longest_stretch(profile: &RegionProfile) -> Stretch {
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
            };
        }
    }
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
            let s = longest_stretch(&profile(changed));
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
        assert_eq!(longest_stretch(&profile).length, 1);
    }
}
