//! One-to-one matching of true and reported events by acquisition index.

/// Pairs the events at acquisition indices `truth` and `result` (each ascending) one to one, two events
/// pairing when their indices differ by at most `tolerance`. The matching is optimal: the most pairs, then the
/// smallest total distance in acquisitions, then (for determinism) the pairing that matches the earliest
/// events first. Returns `(truth position, result position)` pairs in ascending order.
pub fn match_events(truth: &[usize], result: &[usize], tolerance: usize) -> Vec<(usize, usize)> {
    // An optimal matching never crosses (t1 < t2 paired with r1 > r2 can be uncrossed at no cost), so it is an
    // alignment of the two sequences: best[i][j] scores the best matching of truth[i..] with result[j..].
    let (n, m) = (truth.len(), result.len());
    let mut best = vec![vec![Score::default(); m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let mut score = best[i + 1][j].max(best[i][j + 1]);
            if let Some(paired) = pair(truth[i], result[j], tolerance, best[i + 1][j + 1]) {
                score = score.max(paired);
            }
            best[i][j] = score;
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if pair(truth[i], result[j], tolerance, best[i + 1][j + 1]) == Some(best[i][j]) {
            pairs.push((i, j));
            (i, j) = (i + 1, j + 1);
        } else if best[i + 1][j] == best[i][j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

/// A partial matching's quality: more pairs first, then less total distance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Score {
    pairs: usize,
    distance: usize,
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pairs
            .cmp(&other.pairs)
            .then(other.distance.cmp(&self.distance))
    }
}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The score of pairing `t` with `r` on top of `rest`, when they are close enough to pair.
fn pair(t: usize, r: usize, tolerance: usize, rest: Score) -> Option<Score> {
    let distance = t.abs_diff(r);
    (distance <= tolerance).then_some(Score {
        pairs: rest.pairs + 1,
        distance: rest.distance + distance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_events_within_the_tolerance_only() {
        assert_eq!(match_events(&[3], &[3], 1), [(0, 0)]);
        assert_eq!(match_events(&[3], &[4], 1), [(0, 0)]);
        assert_eq!(match_events(&[3], &[2], 1), [(0, 0)]);
        assert!(match_events(&[3], &[5], 1).is_empty());
        assert!(match_events(&[3], &[], 1).is_empty());
        assert!(match_events(&[], &[3], 1).is_empty());
    }

    #[test]
    fn finds_the_most_pairs_not_the_greedy_closest() {
        // Greedy by distance would pair 2 with 2 and leave 1 and 3 alone.
        assert_eq!(match_events(&[1, 2], &[2, 3], 1), [(0, 0), (1, 1)]);
    }

    #[test]
    fn prefers_the_exact_date_among_equally_many_pairs() {
        assert_eq!(match_events(&[5], &[4, 5], 1), [(0, 1)]);
        assert_eq!(match_events(&[4, 5], &[5], 1), [(1, 0)]);
    }

    #[test]
    fn breaks_ties_towards_the_earliest_events() {
        assert_eq!(match_events(&[5], &[4, 6], 1), [(0, 0)]);
        assert_eq!(match_events(&[4, 6], &[5], 1), [(0, 0)]);
    }

    #[test]
    fn matches_each_event_once() {
        assert_eq!(match_events(&[5], &[5, 5], 0), [(0, 0)]);
        assert_eq!(
            match_events(&[1, 4, 9], &[2, 4, 5, 20], 1),
            [(0, 0), (1, 1)]
        );
    }
}
