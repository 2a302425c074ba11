//! The named scenarios of `portwatch synth`: each one's activity at the port and its default settings,
//! which flags override.

use super::encode::Format;
use super::{Cadence, Nuisances, SynthSpec};
use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// August to October 2023, a scene every 1 to 3 days; 1, 2 and 11 ship arrivals in the three months.
    #[value(name = "rajin-2023")]
    Rajin2023,
    /// No activity at all, every nuisance on: the false-alarm test.
    Quiet,
    /// Many overlapping stays across the berths, back-to-back arrivals at a berth.
    Busy,
    /// A few 10000 x 10000 px scenes, for throughput.
    Large,
    /// The bundled sample: 24 small RGB PNG scenes with gentle nuisances.
    Sample,
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let value = self.to_possible_value().expect("no scenario is skipped");
        f.write_str(value.get_name())
    }
}

/// When ships arrive.
pub(super) enum Arrivals {
    None,
    /// `(year, month, count)`: exactly `count` arrivals seen in that month.
    PerMonth(&'static [(i32, u32, usize)]),
    /// An arrival before each scene (but the first) with this probability.
    PerScene(f64),
}

/// What moves at the port in a scenario.
pub(super) struct Activity {
    pub(super) arrivals: Arrivals,
    /// A ship leaves as the next one at its berth arrives, when that one comes within its longest stay.
    pub(super) back_to_back: bool,
    pub(super) wagons: bool,
}

const RAJIN_ARRIVALS: &[(i32, u32, usize)] = &[(2023, 8, 1), (2023, 9, 2), (2023, 10, 11)];

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid calendar date")
}

impl Scenario {
    pub(super) fn activity(self) -> Activity {
        let (arrivals, back_to_back, wagons) = match self {
            Scenario::Rajin2023 => (Arrivals::PerMonth(RAJIN_ARRIVALS), false, true),
            Scenario::Quiet => (Arrivals::None, false, false),
            Scenario::Busy => (Arrivals::PerScene(0.8), true, true),
            Scenario::Large => (Arrivals::PerScene(0.6), false, true),
            Scenario::Sample => (Arrivals::PerScene(0.35), false, true),
        };
        Activity {
            arrivals,
            back_to_back,
            wagons,
        }
    }

    /// The scenario's settings before any flag.
    pub fn defaults(self) -> SynthSpec {
        let moderate = Nuisances {
            noise_dn: 2.0,
            gain_jitter: 0.04,
            offset_jitter_dn: 3.0,
            gamma_jitter: 0.06,
            haze: 0.25,
            cloud_probability: 0.2,
            misregistration_px: 1.0,
            jpeg_probability: 0.15,
            masks: true,
        };
        let base = SynthSpec {
            scenario: self,
            seed: 1,
            width: 512,
            height: 512,
            start: date(2023, 8, 1),
            end: date(2023, 10, 31),
            cadence: Cadence::days(1, 3),
            max_scenes: None,
            gsd_m: 3.0,
            format: Format::Png,
            bits: 8,
            bands: 3,
            nuisances: moderate.clone(),
        };
        match self {
            Scenario::Rajin2023 => SynthSpec {
                seed: 2023,
                width: 768,
                height: 768,
                ..base
            },
            Scenario::Quiet => SynthSpec {
                end: date(2023, 9, 15),
                nuisances: Nuisances {
                    noise_dn: 2.5,
                    gain_jitter: 0.06,
                    offset_jitter_dn: 4.0,
                    gamma_jitter: 0.1,
                    haze: 0.35,
                    cloud_probability: 0.35,
                    misregistration_px: 1.5,
                    jpeg_probability: 0.3,
                    masks: true,
                },
                ..base
            },
            Scenario::Busy => SynthSpec {
                start: date(2023, 9, 1),
                end: date(2023, 10, 15),
                cadence: Cadence::days(1, 2),
                ..base
            },
            Scenario::Large => SynthSpec {
                width: 10_000,
                height: 10_000,
                end: date(2023, 8, 7),
                cadence: Cadence::days(3, 3),
                format: Format::Tiff,
                nuisances: Nuisances {
                    jpeg_probability: 0.0,
                    cloud_probability: 0.5,
                    ..moderate
                },
                ..base
            },
            Scenario::Sample => SynthSpec {
                // A seed whose clouds fall on two scenes.
                seed: 3,
                cadence: Cadence::days(1, 5),
                max_scenes: Some(24),
                nuisances: Nuisances {
                    noise_dn: 1.5,
                    gain_jitter: 0.03,
                    offset_jitter_dn: 3.0,
                    gamma_jitter: 0.04,
                    haze: 0.12,
                    cloud_probability: 0.1,
                    misregistration_px: 0.0,
                    jpeg_probability: 0.0,
                    masks: true,
                },
                ..base
            },
        }
    }
}
