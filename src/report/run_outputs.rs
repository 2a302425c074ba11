//! What the report reads back from a run's output directory (`run.json`, `series.csv`, `events.csv`,
//! `summary.json`) with the archive and regions the run used, every row checked against them, so that a
//! report never mixes an output directory with an archive that changed since.

use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::eval::tables::{CsvFile, RESULT_CELLS_FILE, RESULT_EVENTS_FILE};
use crate::regions::RegionSet;
use crate::run_record::RunRecord;
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
        let archive = Archive::scan(&record.arguments.archive)?;
        let regions = RegionSet::read(&record.arguments.regions)?;
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

/// Where each scene and region named in a table sits in the run's archive and regions.
struct TableIndex<'a> {
    archive: &'a Archive,
    regions: &'a RegionSet,
    dates: HashMap<String, usize>,
    region_indices: HashMap<&'a str, usize>,
}

impl<'a> TableIndex<'a> {
    fn new(archive: &'a Archive, regions: &'a RegionSet) -> TableIndex<'a> {
        TableIndex {
            archive,
            regions,
            dates: (archive.entries.iter().enumerate())
                .map(|(index, entry)| (entry.acquired.to_string(), index))
                .collect(),
            region_indices: (regions.regions.iter().enumerate())
                .map(|(index, region)| (region.name.as_str(), index))
                .collect(),
        }
    }

    /// The (date, region) a line names: a scene of the archive and a region of the regions file, of the
    /// same kind.
    fn cell_of(&self, line: &crate::eval::tables::Line) -> Result<(usize, usize)> {
        let date = line.text("date");
        let date = *self.dates.get(date).ok_or_else(|| {
            line.error(format!(
                "{date} is not a scene of the archive {} (did it change since the run?)",
                self.archive.dir.display()
            ))
        })?;
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
        Ok((date, region))
    }

    /// `series.csv`: one cell per scene of the archive and region, none missing.
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
        let mut cells: Vec<Vec<Option<Cell>>> =
            vec![vec![None; region_count]; self.archive.entries.len()];
        let mut lines_of_cells = HashMap::new();
        for line in table.lines() {
            let (date, region) = self.cell_of(&line)?;
            line.check_unique(&mut lines_of_cells, (date, region), "date and region")?;
            cells[date][region] = Some(Cell {
                valid_fraction: line
                    .fraction("valid_fraction")?
                    .ok_or_else(|| line.error("the valid_fraction is empty"))?,
                occupancy: line.fraction("occupancy")?,
                change_score: line.fraction("change_score")?,
                state: line.state()?,
            });
        }
        (cells.into_iter().enumerate())
            .map(|(date, row)| {
                (row.into_iter().enumerate())
                    .map(|(region, cell)| {
                        cell.ok_or_else(|| {
                            Error::input(
                                path,
                                format!(
                                    "no row for the scene {} and region \"{}\" (did the archive change since the run?)",
                                    self.archive.entries[date].acquired,
                                    self.regions.regions[region].name
                                ),
                            )
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// `events.csv`, in its order.
    fn read_events(&self, path: &Path) -> Result<Vec<Event>> {
        let table = CsvFile::read(path, &["date", "region", "kind", "event", "length_m"], &[])?;
        table
            .lines()
            .map(|line| {
                let (date, region) = self.cell_of(&line)?;
                Ok(Event {
                    date,
                    region,
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
