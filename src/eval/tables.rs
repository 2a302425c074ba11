//! Reading the tables `portwatch eval` compares: the truth (`truth.csv`, `truth_events.csv`) and a run's
//! results (`series.csv`, `events.csv`), checked line by line against each other.

use crate::error::{Error, Result};
pub use crate::series::{EventKind, State};
use chrono::{NaiveDate, NaiveDateTime};
use csv::StringRecord;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub const TRUTH_CELLS_FILE: &str = "truth.csv";
pub const TRUTH_EVENTS_FILE: &str = "truth_events.csv";
pub const RESULT_CELLS_FILE: &str = "series.csv";
pub const RESULT_EVENTS_FILE: &str = "events.csv";

/// A (date, region) cell of the archive.
pub type CellKey = (NaiveDate, String);

/// What the truth says about one (date, region) cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TruthCell {
    pub observed: bool,
    pub occupied: bool,
    pub fill_fraction: Option<f64>,
}

/// What a run says about one (date, region) cell; `occupancy` is present whenever the cell was observed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResultCell {
    pub state: State,
    pub occupancy: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub date: NaiveDate,
    /// The position of `date` in the truth's acquisitions.
    pub acquisition: usize,
    pub region: String,
    pub kind: EventKind,
    pub length_m: Option<f64>,
}

/// The truth of an archive. Its acquisition dates are the dates of `truth.csv`.
#[derive(Debug)]
pub struct Truth {
    /// Ascending, distinct.
    pub acquisitions: Vec<NaiveDate>,
    /// Region name to kind (`berth`, `yard`, ...).
    pub kinds: BTreeMap<String, String>,
    pub cells: BTreeMap<CellKey, TruthCell>,
    /// `None` when `truth_events.csv` is absent.
    pub events: Option<Vec<Event>>,
}

/// The results of a run, every row checked against the truth.
#[derive(Debug)]
pub struct RunResults {
    pub cells: BTreeMap<CellKey, ResultCell>,
    /// `None` when `events.csv` is absent.
    pub events: Option<Vec<Event>>,
}

impl Truth {
    pub fn read(dir: &Path) -> Result<Truth> {
        let table = CsvFile::read(
            &dir.join(TRUTH_CELLS_FILE),
            &["date", "region", "kind", "observed", "occupied"],
            &["fill_fraction"],
        )?;
        let mut kinds = BTreeMap::new();
        let mut cells = BTreeMap::new();
        let mut lines_of_cells = HashMap::new();
        for line in table.lines() {
            let date = line.date()?;
            let region = line.text("region");
            if region.is_empty() {
                return Err(line.error("the region is empty"));
            }
            let kind = line.text("kind");
            match kinds.get(region) {
                Some(first) if first != kind => {
                    return Err(line.error(format!(
                        "region \"{region}\" is a {kind} here but a {first} on an earlier line"
                    )));
                }
                Some(_) => {}
                None => {
                    kinds.insert(region.to_owned(), kind.to_owned());
                }
            }
            let cell = TruthCell {
                observed: line.bit("observed")?,
                occupied: line.bit("occupied")?,
                fill_fraction: line.fraction("fill_fraction")?,
            };
            let key = (date, region.to_owned());
            line.check_unique(&mut lines_of_cells, key.clone(), "date and region")?;
            cells.insert(key, cell);
        }
        let mut acquisitions: Vec<NaiveDate> = cells.keys().map(|(date, _)| *date).collect();
        acquisitions.dedup();
        let mut truth = Truth {
            acquisitions,
            kinds,
            cells,
            events: None,
        };
        truth.events = truth.read_events(&dir.join(TRUTH_EVENTS_FILE))?;
        Ok(truth)
    }

    /// The position of `date` in the archive's acquisitions, if it is one.
    fn acquisition_index(&self, date: NaiveDate) -> Option<usize> {
        self.acquisitions.binary_search(&date).ok()
    }

    /// The cell a line of a table other than `truth.csv` names: its date must be an acquisition and its region
    /// one of the truth, with the same kind.
    fn cell_named_by(&self, line: &Line) -> Result<(CellKey, usize)> {
        let date = line.date()?;
        let Some(acquisition) = self.acquisition_index(date) else {
            return Err(line.error(format!(
                "{date} is not an acquisition date of {TRUTH_CELLS_FILE}"
            )));
        };
        let region = line.text("region");
        let Some(truth_kind) = self.kinds.get(region) else {
            return Err(line.error(format!("region \"{region}\" is not in {TRUTH_CELLS_FILE}")));
        };
        let kind = line.text("kind");
        if kind != truth_kind {
            return Err(line.error(format!(
                "region \"{region}\" is a {kind} here but a {truth_kind} in {TRUTH_CELLS_FILE}"
            )));
        }
        Ok(((date, region.to_owned()), acquisition))
    }

    /// Reads an events table, `None` when there is no file at `path`.
    fn read_events(&self, path: &Path) -> Result<Option<Vec<Event>>> {
        if !path.exists() {
            return Ok(None);
        }
        let table = CsvFile::read(path, &["date", "region", "kind", "event"], &["length_m"])?;
        let mut events = Vec::new();
        let mut lines_of_events = HashMap::new();
        for line in table.lines() {
            let ((date, region), acquisition) = self.cell_named_by(&line)?;
            let kind = line.event()?;
            line.check_unique(
                &mut lines_of_events,
                (date, region.clone(), kind),
                "date, region and event",
            )?;
            events.push(Event {
                date,
                acquisition,
                region,
                kind,
                length_m: line.length("length_m")?,
            });
        }
        Ok(Some(events))
    }

    /// Reads `series.csv` and `events.csv` of a run from `dir`.
    pub fn read_results(&self, dir: &Path) -> Result<RunResults> {
        let table = CsvFile::read(
            &dir.join(RESULT_CELLS_FILE),
            &["date", "region", "kind", "state", "occupancy"],
            &[],
        )?;
        let mut cells = BTreeMap::new();
        let mut lines_of_cells = HashMap::new();
        for line in table.lines() {
            let (key, _) = self.cell_named_by(&line)?;
            let state = line.state()?;
            let occupancy = line.fraction("occupancy")?;
            if occupancy.is_none() && state != State::Unobserved {
                return Err(line.error("the occupancy of an observed cell is empty"));
            }
            line.check_unique(&mut lines_of_cells, key.clone(), "date and region")?;
            cells.insert(key, ResultCell { state, occupancy });
        }
        Ok(RunResults {
            cells,
            events: self.read_events(&dir.join(RESULT_EVENTS_FILE))?,
        })
    }
}

/// A CSV table read whole, with its header's columns located by name. A UTF-8 byte order mark, CRLF line
/// endings, spaces around fields and columns not asked for are all accepted. Also read by the report.
pub(crate) struct CsvFile {
    path: PathBuf,
    columns: HashMap<&'static str, usize>,
    records: Vec<StringRecord>,
}

impl CsvFile {
    /// Reads `path`, which must have the columns `required` and may have the columns `optional`.
    pub(crate) fn read(
        path: &Path,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<CsvFile> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text);
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        let position = |name: &str| header.iter().position(|column| column == name);
        let mut columns = HashMap::new();
        for &name in required {
            let index = position(name).ok_or_else(|| {
                Error::input(
                    path,
                    format!(
                        "no column \"{name}\" in the header (required: {})",
                        required.join(",")
                    ),
                )
            })?;
            columns.insert(name, index);
        }
        for &name in optional {
            if let Some(index) = position(name) {
                columns.insert(name, index);
            }
        }
        let records = reader
            .records()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| csv_error(path, e))?;
        Ok(CsvFile {
            path: path.to_path_buf(),
            columns,
            records,
        })
    }

    pub(crate) fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.records
            .iter()
            .map(|record| Line { file: self, record })
    }
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => error.to_string(),
    };
    match error.position() {
        Some(position) => Error::Line {
            path: path.to_path_buf(),
            line: position.line(),
            message,
        },
        None => Error::input(path, message),
    }
}

/// One row of a [`CsvFile`], with the parsers that name the file and line when a field is bad.
pub(crate) struct Line<'a> {
    file: &'a CsvFile,
    record: &'a StringRecord,
}

impl Line<'_> {
    fn number(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::line)
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::Line {
            path: self.file.path.clone(),
            line: self.number(),
            message: message.into(),
        }
    }

    /// The field of `column`; empty when it is an optional column the file lacks.
    pub(crate) fn text(&self, column: &str) -> &str {
        self.file
            .columns
            .get(column)
            .and_then(|&index| self.record.get(index))
            .unwrap_or("")
    }

    /// The `date` column: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` of which only the date counts.
    fn date(&self) -> Result<NaiveDate> {
        let text = self.text("date");
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map(|t| t.date()))
            .map_err(|_| {
                self.error(format!(
                    "bad date \"{text}\" (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"
                ))
            })
    }

    /// The `state` column: `occupied`, `empty` or `unobserved`.
    pub(crate) fn state(&self) -> Result<State> {
        let word = self.text("state");
        State::parse(word).ok_or_else(|| {
            self.error(format!(
                "unknown state \"{word}\" (expected occupied, empty or unobserved)"
            ))
        })
    }

    /// The `event` column: `arrival`, `departure`, `fill` or `clear`.
    pub(crate) fn event(&self) -> Result<EventKind> {
        let word = self.text("event");
        EventKind::parse(word).ok_or_else(|| {
            self.error(format!(
                "unknown event \"{word}\" (expected arrival, departure, fill or clear)"
            ))
        })
    }

    /// A `0`/`1` column.
    fn bit(&self, column: &str) -> Result<bool> {
        match self.text(column) {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(self.error(format!("bad {column} \"{other}\" (expected 0 or 1)"))),
        }
    }

    /// A number from 0 to 1, `None` when the field is empty.
    pub(crate) fn fraction(&self, column: &str) -> Result<Option<f64>> {
        self.optional_number(column, |v| (0.0..=1.0).contains(&v), "a number from 0 to 1")
    }

    /// A length in metres, `None` when the field is empty.
    pub(crate) fn length(&self, column: &str) -> Result<Option<f64>> {
        self.optional_number(column, |v| v.is_finite() && v >= 0.0, "a length in metres")
    }

    fn optional_number(
        &self,
        column: &str,
        valid: impl Fn(f64) -> bool,
        expected: &str,
    ) -> Result<Option<f64>> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(value) if valid(value) => Ok(Some(value)),
            _ => Err(self.error(format!("bad {column} \"{text}\" (expected {expected})"))),
        }
    }

    /// Records that this line holds `key`, which identifies a row by `what`; an error naming the earlier line
    /// when one already did.
    fn check_unique<K: std::hash::Hash + Eq>(
        &self,
        lines_by_key: &mut HashMap<K, u64>,
        key: K,
        what: &str,
    ) -> Result<()> {
        match lines_by_key.insert(key, self.number()) {
            Some(earlier) => {
                Err(self.error(format!("duplicate row: same {what} as line {earlier}")))
            }
            None => Ok(()),
        }
    }
}
