//! Progress of long runs on stderr: a bar when stderr is a terminal, a plain line every few seconds when it
//! is a log, nothing at all when quiet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a plain progress line is written when stderr is not a terminal.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

enum Display {
    Bar(indicatif::ProgressBar),
    Lines { last: Instant },
    Quiet,
}

/// Counts units of work (pairs, scenes) towards a known total and shows how far along a run is.
pub struct Progress {
    display: Display,
    unit: &'static str,
    total: u64,
    done: u64,
    started: Instant,
}

impl Progress {
    /// Progress over `total` units named `unit` (plural, e.g. "pairs").
    pub fn new(total: u64, unit: &'static str, quiet: bool) -> Progress {
        let display = if quiet {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} {prefix} {msg} ({eta} left)",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            let bar = indicatif::ProgressBar::new(total)
                .with_style(style)
                .with_prefix(unit);
            Display::Bar(bar)
        } else {
            Display::Lines {
                last: Instant::now(),
            }
        };
        Progress {
            display,
            unit,
            total,
            done: 0,
            started: Instant::now(),
        }
    }

    /// Writes a line of information, unless quiet, without tearing the bar.
    pub fn say(&self, line: &str) {
        match &self.display {
            Display::Bar(bar) => bar.println(format!("portwatch: {line}")),
            Display::Lines { .. } => eprintln!("portwatch: {line}"),
            Display::Quiet => {}
        }
    }

    /// Records one more unit done; `item` names it (a date pair, a file).
    pub fn advance(&mut self, item: &str) {
        self.done += 1;
        match &mut self.display {
            Display::Bar(bar) => {
                bar.set_message(item.to_owned());
                bar.inc(1);
            }
            Display::Lines { last } => {
                if last.elapsed() >= LINE_INTERVAL || self.done == self.total {
                    eprintln!(
                        "portwatch: {}/{} {} done ({item}), {:.1} s",
                        self.done,
                        self.total,
                        self.unit,
                        self.started.elapsed().as_secs_f64()
                    );
                    *last = Instant::now();
                }
            }
            Display::Quiet => {}
        }
    }

    /// Writes a warning, even when quiet, without tearing the bar.
    pub fn warn(&self, line: &str) {
        match &self.display {
            Display::Bar(bar) => bar.println(format!("portwatch: {line}")),
            Display::Lines { .. } | Display::Quiet => eprintln!("portwatch: {line}"),
        }
    }

    /// Starts counting again from none done, as when work has to be done again.
    pub fn restart(&mut self) {
        self.done = 0;
        if let Display::Bar(bar) = &self.display {
            bar.set_position(0);
        }
    }

    /// Seconds since the progress began.
    pub fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Removes the bar, leaving the terminal as it was.
    pub fn finish(&self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
    }
}
