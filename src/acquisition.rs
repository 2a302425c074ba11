//! Acquisition timestamps read from scene file names, the key that orders an archive.

use chrono::{NaiveDate, NaiveTime};
use std::fmt;

/// When a scene was taken: a date, and a time of day when the file name carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Acquisition {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
}

impl Acquisition {
    /// Finds the first date in a file stem, `2023-10-19` or `20231019` standing apart from other digits,
    /// with an optional time right after it: `T0130`, `T013045` or `_013045` (PlanetScope, Sentinel-2).
    pub fn from_stem(stem: &str) -> Option<Acquisition> {
        let bytes = stem.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()))
            .find_map(|i| {
                let (date, rest) = parse_date(&bytes[i..])?;
                Some(Acquisition {
                    date,
                    time: parse_time(rest),
                })
            })
    }

    /// The instant used for ordering and for spotting duplicates: a missing time counts as midnight.
    pub fn instant(&self) -> chrono::NaiveDateTime {
        self.date.and_time(self.time.unwrap_or(NaiveTime::MIN))
    }
}

/// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` when the file name carried a time.
impl fmt::Display for Acquisition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date.format("%Y-%m-%d"))?;
        if let Some(time) = self.time {
            write!(f, "T{}", time.format("%H:%M:%S"))?;
        }
        Ok(())
    }
}

/// The value of `n` ASCII digits at the start of `bytes`, when they are all digits and no digit follows.
fn digits(bytes: &[u8], n: usize) -> Option<u32> {
    let run = bytes.get(..n)?;
    if !run.iter().all(u8::is_ascii_digit) || bytes.get(n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(run.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
}

fn parse_date(bytes: &[u8]) -> Option<(NaiveDate, &[u8])> {
    let dashed = bytes.len() >= 10 && bytes[4] == b'-' && bytes[7] == b'-';
    let (y, m, d, len) = if dashed {
        (
            digits(bytes, 4)?,
            digits(&bytes[5..], 2)?,
            digits(&bytes[8..], 2)?,
            10,
        )
    } else {
        let v = digits(bytes, 8)?;
        (v / 10_000, v / 100 % 100, v % 100, 8)
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)?;
    Some((date, &bytes[len..]))
}

fn parse_time(rest: &[u8]) -> Option<NaiveTime> {
    let hhmmss = match rest.first()? {
        b'T' | b't' => {
            digits(&rest[1..], 6).or_else(|| digits(&rest[1..], 4).map(|hhmm| hhmm * 100))?
        }
        b'_' => digits(&rest[1..], 6)?,
        _ => return None,
    };
    NaiveTime::from_hms_opt(hhmmss / 10_000, hhmmss / 100 % 100, hhmmss % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(stem: &str) -> Option<String> {
        Acquisition::from_stem(stem).map(|a| a.to_string())
    }

    #[test]
    fn reads_the_documented_forms() {
        assert_eq!(parsed("2023-10-19").as_deref(), Some("2023-10-19"));
        assert_eq!(parsed("20231019").as_deref(), Some("2023-10-19"));
        assert_eq!(
            parsed("20231019T0130").as_deref(),
            Some("2023-10-19T01:30:00")
        );
        assert_eq!(
            parsed("2023-10-19T013045").as_deref(),
            Some("2023-10-19T01:30:45")
        );
        assert_eq!(
            parsed("20231019_013045_22_2424_3B_AnalyticMS").as_deref(),
            Some("2023-10-19T01:30:45")
        );
        assert_eq!(
            parsed("S2A_MSIL2A_20231019T013045_N0509_R032").as_deref(),
            Some("2023-10-19T01:30:45")
        );
        assert_eq!(
            parsed("rajin_2023-08-02_visual").as_deref(),
            Some("2023-08-02")
        );
    }

    #[test]
    fn rejects_names_without_a_calendar_date() {
        for stem in [
            "regions",
            "scene",
            "2023-13-01",
            "20230230",
            "123456789",
            "2023-1-05",
        ] {
            assert_eq!(parsed(stem), None, "{stem}");
        }
    }

    #[test]
    fn ignores_what_is_not_a_time() {
        assert_eq!(parsed("20231019_2424").as_deref(), Some("2023-10-19"));
        assert_eq!(parsed("20231019T2561").as_deref(), Some("2023-10-19"));
    }

    #[test]
    fn orders_by_date_then_time() {
        let day = Acquisition::from_stem("20231019").unwrap();
        let later = Acquisition::from_stem("20231019_013045").unwrap();
        assert!(day.instant() < later.instant());
        assert_eq!(
            Acquisition::from_stem("20231019T0000").unwrap().instant(),
            day.instant()
        );
    }
}
