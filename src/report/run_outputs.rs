//! What the report reads back from a run's output directory (`run.json`, `series.csv`, `events.csv`,
//! `summary.json`) with the archive and regions the run used, every row checked against them, so that a
//! report never mixes an output directory with an archive that changed since.

use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::eval::tables::{CsvFile, Line, RESULT_CELLS_FILE, RESULT_EVENTS_FILE};
use crate::regions::RegionSet;
use crate::run_record::{RUN_RECORD_FILE, RunRecord};
use crate::scene::{BandSelection, DecodeOptions};
use crate::series::{Analysis, Cell, Event, State, Summary};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const SUMMARY_FILE: &str = "summary.json";

/// A run's outputs and the inputs it read.
pub struct RunOutputs {
    /// The output directory.
    pub dir: PathBuf,
    pub record: RunRecord,
    pub archive: Archive,
    pub regions: RegionSet,
    /// `cells[date][region]`, dates in archive order and regions in name order, and the events.
    pub analysis: Analysis,
    pub summary: Summary,
}

impl RunOutputs {
    /// Reads the outputs in `dir`, the archive and the regions named by its `run.json`.
    pub fn read(dir: &Path) -> Result<RunOutputs> {
        let record = RunRecord::read(dir)?;
        let bands = (record.arguments.bands.clone())
            .map(BandSelection::new)
            .transpose()
            .map_err(|message| Error::input(dir.join(RUN_RECORD_FILE), message))?;
        let archive =
            Archive::scan(&record.arguments.archive)?.with_decode_options(DecodeOptions { bands });
        let regions = RegionSet::read(&record.arguments.regions)?
            .in_pixels(archive.georeference().as_ref())?;
        let index = TableIndex::new(&archive, &regions);
        let cells = index.read_cells(&dir.join(RESULT_CELLS_FILE))?;
        let events = index.read_events(&dir.join(RESULT_EVENTS_FILE))?;
        let summary = read_summary(&dir.join(SUMMARY_FILE))?;
        Ok(RunOutputs {
            dir: dir.to_path_buf(),
            record,
            archive,
            regions,
            analysis: Analysis { cells, events },
            summary,
        })
    }

    /// The last date before `date` on which `region` was observed.
    pub fn previous_observation(&self, region: usize, date: usize) -> Option<usize> {
        (0..date)
            .rev()
            .find(|&earlier| self.analysis.cells[earlier][region].state != State::Unobserved)
    }
}

/// Where each scene and region named in a table sits in the run's archive and regions. The tables name a
/// scene by its acquisition date alone (`YYYY-MM-DD`), so scenes taken on the same day are told apart by
/// the order of `series.csv`, and an event on such a day is placed at the first of them.
struct TableIndex<'a> {
    archive: &'a Archive,
    regions: &'a RegionSet,
    /// The first scene of each date.
    dates: HashMap<String, usize>,
    region_indices: HashMap<&'a str, usize>,
}

impl<'a> TableIndex<'a> {
    fn new(archive: &'a Archive, regions: &'a RegionSet) -> TableIndex<'a> {
        let mut dates = HashMap::new();
        for (index, entry) in archive.entries.iter().enumerate() {
            dates
                .entry(entry.acquired.date.to_string())
                .or_insert(index);
        }
        TableIndex {
            archive,
            regions,
            dates,
            region_indices: (regions.regions.iter().enumerate())
                .map(|(index, region)| (region.name.as_str(), index))
                .collect(),
        }
    }

    /// The region a line names, which must be in the regions file with the same kind.
    fn region_of(&self, line: &Line) -> Result<usize> {
        let name = line.text("region");
        let region = *self.region_indices.get(name).ok_or_else(|| {
            line.error(format!(
                "region \"{name}\" is not in {}",
                self.regions.source.display()
            ))
        })?;
        let kind = &self.regions.regions[region].kind;
        if line.text("kind") != kind {
            return Err(line.error(format!(
                "region \"{name}\" is a {} here but a {kind} in {}",
                line.text("kind"),
                self.regions.source.display()
            )));
        }
        Ok(region)
    }

    /// The error for a line naming `date`, which is not the scene expected there.
    fn changed_archive(&self, line: &Line, date: &str) -> Error {
        line.error(format!(
            "{date} is not a scene of the archive {} here (did the archive change since the run?)",
            self.archive.dir.display()
        ))
    }

    /// `series.csv`: one row per scene of the archive and region, in archive order, then region order, as
    /// `run` writes it.
    fn read_cells(&self, path: &Path) -> Result<Vec<Vec<Cell>>> {
        let table = CsvFile::read(
            path,
            &[
                "date",
                "region",
                "kind",
                "valid_fraction",
                "change_score",
                "occupancy",
                "state",
            ],
            &[],
        )?;
        let region_count = self.regions.regions.len();
        let mut cells: Vec<Vec<Cell>> =
            vec![Vec::with_capacity(region_count); self.archive.entries.len()];
        for (row, line) in table.lines().enumerate() {
            let (date, region) = (row / region_count, row % region_count);
            let date_text = line.text("date");
            let entry = self.archive.entries.get(date);
            if entry.is_none_or(|entry| entry.acquired.date.to_string() != date_text) {
                return Err(self.changed_archive(&line, date_text));
            }
            if self.region_of(&line)? != region {
                return Err(line.error(format!(
                    "expected region \"{}\" here: the rows of a date are in region name order",
                    self.regions.regions[region].name
                )));
            }
            cells[date].push(Cell {
                valid_fraction: line
                    .fraction("valid_fraction")?
                    .ok_or_else(|| line.error("the valid_fraction is empty"))?,
                occupancy: line.fraction("occupancy")?,
                change_score: line.fraction("change_score")?,
                state: line.state()?,
            });
        }
        if let Some(date) = cells.iter().position(|row| row.len() < region_count) {
            return Err(Error::input(
                path,
                format!(
                    "no row for the scene {} and region \"{}\" (did the archive change since the run?)",
                    self.archive.entries[date].acquired,
                    self.regions.regions[cells[date].len()].name
                ),
            ));
        }
        Ok(cells)
    }

    /// `events.csv`, in its order.
    fn read_events(&self, path: &Path) -> Result<Vec<Event>> {
        let table = CsvFile::read(path, &["date", "region", "kind", "event", "length_m"], &[])?;
        table
            .lines()
            .map(|line| {
                let date_text = line.text("date");
                let date = *self
                    .dates
                    .get(date_text)
                    .ok_or_else(|| self.changed_archive(&line, date_text))?;
                Ok(Event {
                    date,
                    region: self.region_of(&line)?,
                    kind: line.event()?,
                    length_m: line.length("length_m")?,
                })
            })
            .collect()
    }
}

fn read_summary(path: &Path) -> Result<Summary> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::input(path, format!("not a run summary: {e}")))
}
