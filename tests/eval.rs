//! `portwatch eval` end to end on hand-made truth and result tables whose metrics are computed by hand: a
//! perfect result, each kind of mistake, hand-written formats, thresholds and exit codes, and bad input.

mod common;

use serde_json::Value;
use std::process::{Command, Output};

/// Six acquisitions, two berths and a yard. berth-1 holds a 120 m ship from 08-30 to 09-01 and a 100 m one from
/// 09-09; berth-2 a 150 m one from 09-03. berth-2 is clouded on 08-30, the yard on 09-03.
const TRUTH: &str = "\
date,region,kind,observed,occupied,fill_fraction,length_m
2023-08-28,berth-1,berth,1,0,,
2023-08-28,berth-2,berth,1,0,,
2023-08-28,yard-a,yard,1,0,0.1,
2023-08-30,berth-1,berth,1,1,,120
2023-08-30,berth-2,berth,0,0,,
2023-08-30,yard-a,yard,1,1,0.6,
2023-09-01,berth-1,berth,1,1,,120
2023-09-01,berth-2,berth,1,0,,
2023-09-01,yard-a,yard,1,1,0.6,
2023-09-03,berth-1,berth,1,0,,
2023-09-03,berth-2,berth,1,1,,150
2023-09-03,yard-a,yard,0,1,0.6,
2023-09-06,berth-1,berth,1,0,,
2023-09-06,berth-2,berth,1,1,,150
2023-09-06,yard-a,yard,1,0,0.2,
2023-09-09,berth-1,berth,1,1,,100
2023-09-09,berth-2,berth,1,1,,150
2023-09-09,yard-a,yard,1,0,0.2,
";

const TRUTH_EVENTS: &str = "\
date,region,kind,event,length_m
2023-08-30,berth-1,berth,arrival,120
2023-09-03,berth-1,berth,departure,
2023-09-03,berth-2,berth,arrival,150
2023-09-09,berth-1,berth,arrival,100
2023-08-30,yard-a,yard,fill,
2023-09-06,yard-a,yard,clear,
";

/// The `series.csv` a perfect run would write for `truth`: berths at occupancy 0.9 or 0.05, yards at their fill.
fn perfect_series(truth: &str) -> String {
    let mut series = String::from("date,region,kind,valid_fraction,change_score,occupancy,state\n");
    for line in truth.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (observed, occupied, fill) = (fields[3] == "1", fields[4] == "1", fields[5]);
        let state = match (observed, occupied) {
            (false, _) => "unobserved",
            (true, true) => "occupied",
            (true, false) => "empty",
        };
        let occupancy = match (fill, occupied) {
            ("", true) => "0.9000",
            ("", false) => "0.0500",
            (fill, _) => fill,
        };
        let valid = if observed { "1.0000" } else { "0.2000" };
        series += &format!(
            "{},{},{},{valid},0.0100,{occupancy},{state}\n",
            fields[0], fields[1], fields[2]
        );
    }
    series
}

/// `text` with the line `from` replaced by `to` (or removed when `to` is empty); `from` must be there.
fn replaced(text: &str, from: &str, to: &str) -> String {
    let line = format!("{from}\n");
    assert!(text.contains(&line), "no line {from:?} in {text}");
    text.replace(
        &line,
        &if to.is_empty() {
            String::new()
        } else {
            format!("{to}\n")
        },
    )
}

/// A truth directory and a result directory holding the named files.
struct Case {
    truth: tempfile::TempDir,
    result: tempfile::TempDir,
}

impl Case {
    fn new(truth: &[(&str, &str)], result: &[(&str, &str)]) -> Case {
        let write_all = |files: &[(&str, &str)]| {
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in files {
                std::fs::write(dir.path().join(name), text).unwrap();
            }
            dir
        };
        Case {
            truth: write_all(truth),
            result: write_all(result),
        }
    }

    /// The truth above and a result with `series` and `events`.
    fn standard(series: &str, events: &str) -> Case {
        Case::new(
            &[("truth.csv", TRUTH), ("truth_events.csv", TRUTH_EVENTS)],
            &[("series.csv", series), ("events.csv", events)],
        )
    }

    fn perfect() -> Case {
        Case::standard(&perfect_series(TRUTH), TRUTH_EVENTS)
    }

    fn eval(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "eval",
            "--truth",
            self.truth.path().to_str().unwrap(),
            "--result",
            self.result.path().to_str().unwrap(),
        ];
        args.extend(extra);
        Command::new(common::portwatch_bin())
            .args(&args)
            .output()
            .expect("portwatch runs")
    }

    /// Runs with `--json` and returns the document; the run must exit with `code`.
    fn json(&self, extra: &[&str], code: i32) -> Value {
        let path = self.result.path().join("eval.json");
        let mut args = vec!["--json", path.to_str().unwrap()];
        args.extend(extra);
        let output = self.eval(&args);
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn number(json: &Value, pointer: &str) -> f64 {
    json.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {json:#}"))
}

fn assert_close(json: &Value, pointer: &str, expected: f64) {
    let actual = number(json, pointer);
    assert!(
        (actual - expected).abs() < 1e-9,
        "{pointer}: {actual}, expected {expected}"
    );
}

#[test]
fn a_perfect_result_scores_perfectly_and_passes_every_threshold() {
    let json = Case::perfect().json(&common::PERFECT_SCORE_THRESHOLDS, 0);
    for (pointer, expected) in [
        ("/berth_state_accuracy/fraction", 1.0),
        ("/berth_state_accuracy/out_of", 11.0),
        ("/observed_called_unobserved/fraction", 0.0),
        ("/observed_called_unobserved/out_of", 16.0),
        ("/clouded_caught/fraction", 1.0),
        ("/clouded_caught/out_of", 2.0),
        ("/yard_occupancy/mean_absolute_error", 0.0),
        ("/yard_occupancy/scored_cells", 5.0),
        ("/events/length_error_m/mean", 0.0),
        ("/events/length_error_m/median", 0.0),
        ("/events/length_error_m/pairs", 3.0),
        ("/events/median_inter_arrival_days/truth", 5.0),
        ("/events/median_inter_arrival_days/result", 5.0),
        ("/cells_missing_from_result", 0.0),
    ] {
        assert_close(&json, pointer, expected);
    }
    for kind in ["arrival", "departure", "fill", "clear"] {
        for score in ["precision", "recall", "f1"] {
            assert_close(&json, &format!("/events/{kind}/{score}"), 1.0);
        }
    }
    assert_eq!(json["passed"], Value::Bool(true));
    assert_eq!(json["thresholds"].as_array().unwrap().len(), 9);
}

#[test]
fn the_table_lists_every_metric_aligned_with_thresholds_and_verdicts() {
    let output = Case::perfect().eval(&["--min-arrival-f1", "0.95", "--max-yard-mae", "0.05"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("metric "), "{table}");
    let value_column = lines[0].find("value").unwrap();
    for (label, value, threshold) in [
        ("berth state accuracy", "1.0000 (11/11)", ""),
        (
            "arrival F1",
            "1.0000 (3 matched, 3 true, 3 reported)",
            ">= 0.95",
        ),
        ("yard occupancy MAE", "0.0000 (5 cells)", "<= 0.05"),
        ("vessel length error, mean", "0.0 m (3 arrivals)", ""),
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label:?} in {table}"));
        assert_eq!(
            &line[value_column..value_column + value.len()],
            value,
            "{table}"
        );
        if threshold.is_empty() {
            assert!(!line.contains("pass"), "{line}");
        } else {
            assert!(line.contains(threshold) && line.ends_with("pass"), "{line}");
        }
    }
    for row in ["2023-08", "2023-09"] {
        assert!(lines.iter().any(|l| l.starts_with(row)), "{table}");
    }
    assert!(table.contains("median days between arrivals"), "{table}");
}

#[test]
fn late_missed_and_false_arrivals_and_length_errors() {
    // berth-1's first ship reported one acquisition late (matches, 6 m long), a false arrival at berth-1 on
    // 09-03, berth-2's ship two acquisitions late (a miss and a false arrival), berth-1's second ship on time
    // but 10 m short.
    let events = "\
date,region,kind,event,length_m
2023-09-01,berth-1,berth,arrival,126
2023-09-03,berth-1,berth,arrival,
2023-09-03,berth-1,berth,departure,
2023-09-09,berth-1,berth,arrival,90
2023-09-09,berth-2,berth,arrival,140
2023-08-30,yard-a,yard,fill,
2023-09-06,yard-a,yard,clear,
";
    let json = Case::standard(&perfect_series(TRUTH), events).json(&[], 0);
    assert_close(&json, "/events/arrival/truth", 3.0);
    assert_close(&json, "/events/arrival/result", 4.0);
    assert_close(&json, "/events/arrival/matched", 2.0);
    assert_close(&json, "/events/arrival/precision", 0.5);
    assert_close(&json, "/events/arrival/recall", 2.0 / 3.0);
    assert_close(&json, "/events/arrival/f1", 4.0 / 7.0);
    assert_close(&json, "/events/departure/f1", 1.0);
    assert_close(&json, "/events/length_error_m/mean", 8.0);
    assert_close(&json, "/events/length_error_m/median", 8.0);
    assert_close(&json, "/events/length_error_m/pairs", 2.0);
    assert_close(&json, "/events/median_inter_arrival_days/truth", 5.0);
    // Result arrivals 09-01, 09-03, 09-09, 09-09: intervals 2, 6 and 0 days.
    assert_close(&json, "/events/median_inter_arrival_days/result", 2.0);

    let arrival = &json["events"]["arrival"];
    let first_match = &arrival["matches"][0];
    assert_eq!(first_match["region"], "berth-1");
    assert_eq!(first_match["truth_date"], "2023-08-30");
    assert_eq!(first_match["result_date"], "2023-09-01");
    assert_close(first_match, "/truth_length_m", 120.0);
    assert_close(first_match, "/result_length_m", 126.0);
    assert_eq!(arrival["matches"][1]["truth_date"], "2023-09-09");
    let places = |list: &Value| -> Vec<(String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| (e["region"].to_string(), e["date"].to_string()))
            .collect()
    };
    assert_eq!(
        places(&arrival["missed"]),
        [("\"berth-2\"".to_owned(), "\"2023-09-03\"".to_owned())]
    );
    assert_eq!(
        places(&arrival["false_alarms"]),
        [
            ("\"berth-1\"".to_owned(), "\"2023-09-03\"".to_owned()),
            ("\"berth-2\"".to_owned(), "\"2023-09-09\"".to_owned())
        ]
    );

    let months = &json["events"]["arrivals_per_month"];
    for (pointer, expected) in [
        ("/port/2023-08/truth", 1.0),
        ("/port/2023-08/result", 0.0),
        ("/port/2023-09/truth", 2.0),
        ("/port/2023-09/result", 4.0),
        ("/regions/berth-1/2023-08/truth", 1.0),
        ("/regions/berth-1/2023-09/result", 3.0),
        ("/regions/berth-2/2023-08/result", 0.0),
        ("/regions/berth-2/2023-09/truth", 1.0),
    ] {
        assert_close(months, pointer, expected);
    }
    assert_eq!(months["port"].as_object().unwrap().len(), 2);
}

#[test]
fn fill_and_clear_events_are_matched_like_arrivals() {
    // The fill two acquisitions late matches nothing; the clear one acquisition early matches.
    let events = replaced(
        &replaced(
            TRUTH_EVENTS,
            "2023-08-30,yard-a,yard,fill,",
            "2023-09-03,yard-a,yard,fill,",
        ),
        "2023-09-06,yard-a,yard,clear,",
        "2023-09-03,yard-a,yard,clear,",
    );
    let json = Case::standard(&perfect_series(TRUTH), &events).json(&[], 0);
    assert_close(&json, "/events/fill/f1", 0.0);
    assert_close(&json, "/events/fill/recall", 0.0);
    assert_close(&json, "/events/clear/f1", 1.0);
    assert_close(&json, "/events/arrival/f1", 1.0);
}

#[test]
fn state_accuracy_cloud_handling_and_yard_error() {
    let mut series = perfect_series(TRUTH);
    for (from, to) in [
        // A berth called empty under a ship.
        (
            "2023-09-01,berth-1,berth,1.0000,0.0100,0.9000,occupied",
            "2023-09-01,berth-1,berth,1.0000,0.0100,0.0500,empty",
        ),
        // A clear berth called unobserved: out of the accuracy, counted as observed-called-unobserved.
        (
            "2023-09-06,berth-2,berth,1.0000,0.0100,0.9000,occupied",
            "2023-09-06,berth-2,berth,0.4000,0.0100,,unobserved",
        ),
        // A clouded berth reported observed: a cloud not caught.
        (
            "2023-08-30,berth-2,berth,0.2000,0.0100,0.0500,unobserved",
            "2023-08-30,berth-2,berth,0.9000,0.0100,0.0500,empty",
        ),
        // Yard occupancy off by 0.2 and by 0.1.
        (
            "2023-08-28,yard-a,yard,1.0000,0.0100,0.1,empty",
            "2023-08-28,yard-a,yard,1.0000,0.0100,0.3,empty",
        ),
        (
            "2023-08-30,yard-a,yard,1.0000,0.0100,0.6,occupied",
            "2023-08-30,yard-a,yard,1.0000,0.0100,0.5,occupied",
        ),
    ] {
        series = replaced(&series, from, to);
    }
    let json = Case::standard(&series, TRUTH_EVENTS).json(&["--max-yard-mae", "0.05"], 3);
    assert_close(&json, "/berth_state_accuracy/count", 9.0);
    assert_close(&json, "/berth_state_accuracy/out_of", 10.0);
    assert_close(&json, "/berth_state_accuracy/fraction", 0.9);
    assert_close(&json, "/observed_called_unobserved/count", 1.0);
    assert_close(&json, "/observed_called_unobserved/fraction", 1.0 / 16.0);
    assert_close(&json, "/clouded_caught/count", 1.0);
    assert_close(&json, "/clouded_caught/fraction", 0.5);
    assert_close(&json, "/yard_occupancy/scored_cells", 5.0);
    assert_close(&json, "/yard_occupancy/mean_absolute_error", 0.3 / 5.0);
    let verdict = &json["thresholds"][0];
    assert_eq!(verdict["metric"], "yard_mae");
    assert_eq!(verdict["bound"], "max");
    assert_eq!(verdict["passed"], Value::Bool(false));
    assert_eq!(
        verdict["failure"],
        "yard occupancy MAE is 0.0600, above the maximum 0.05"
    );
}

#[test]
fn truth_cells_missing_from_the_result_are_counted_and_left_out() {
    let series = replaced(
        &perfect_series(TRUTH),
        "2023-09-09,yard-a,yard,1.0000,0.0100,0.2,empty",
        "",
    );
    let case = Case::standard(&series, TRUTH_EVENTS);
    let output = case.eval(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 of 18 truth cells have no row in"),
        "{}",
        stderr(&output)
    );
    let json = case.json(&[], 0);
    assert_close(&json, "/cells_missing_from_result", 1.0);
    assert_close(&json, "/yard_occupancy/scored_cells", 4.0);
    assert_close(&json, "/observed_called_unobserved/out_of", 15.0);
}

#[test]
fn hand_written_tables_with_bom_crlf_extra_columns_and_times_score_alike() {
    let crlf = |text: &str| text.replace('\n', "\r\n");
    let mut truth_lines: Vec<String> = TRUTH.lines().map(|l| format!("{l},analyst note")).collect();
    truth_lines[1..].reverse();
    truth_lines[1] = truth_lines[1].replacen("2023-09-09", "2023-09-09T01:30:45", 1);
    let truth = format!("\u{feff}{}\n", truth_lines.join("\n"));
    let events: String = TRUTH_EVENTS
        .lines()
        .map(|l| format!("{l},source\n"))
        .collect();
    let case = Case::new(
        &[
            ("truth.csv", &crlf(&truth)),
            ("truth_events.csv", &crlf(&events)),
        ],
        &[
            ("series.csv", &format!("\u{feff}{}", perfect_series(TRUTH))),
            ("events.csv", TRUTH_EVENTS),
        ],
    );
    let json = case.json(&common::PERFECT_SCORE_THRESHOLDS, 0);
    assert_close(&json, "/berth_state_accuracy/fraction", 1.0);
    assert_close(&json, "/events/arrival/f1", 1.0);
    assert_close(&json, "/acquisitions", 6.0);
}

#[test]
fn without_truth_events_event_metrics_are_not_available_and_their_thresholds_fail() {
    let case = Case::new(
        &[("truth.csv", TRUTH)],
        &[
            ("series.csv", &perfect_series(TRUTH)),
            ("events.csv", TRUTH_EVENTS),
        ],
    );
    let output = case.eval(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("arrival F1"));
    assert!(
        stdout(&output).contains("n/a (the truth has no truth_events.csv)"),
        "{}",
        stdout(&output)
    );
    let json = case.json(
        &["--min-state-accuracy", "0.98", "--min-arrival-f1", "0.5"],
        3,
    );
    assert_eq!(json["events"], Value::Null);
    assert_eq!(
        json["events_unavailable"],
        "the truth has no truth_events.csv"
    );
    assert_eq!(json["passed"], Value::Bool(false));
    let verdicts = json["thresholds"].as_array().unwrap();
    assert_eq!(verdicts[0]["metric"], "state_accuracy");
    assert_eq!(verdicts[0]["bound"], "min");
    assert_eq!(verdicts[0]["passed"], Value::Bool(true));
    assert_eq!(verdicts[1]["metric"], "arrival_f1");
    assert_eq!(verdicts[1]["value"], Value::Null);
    let output = case.eval(&["--min-arrival-f1", "0.5"]);
    assert!(
        stderr(&output)
            .contains("arrival F1 cannot be computed (the truth has no truth_events.csv)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missed_threshold_exits_3_and_says_which() {
    let series = replaced(
        &perfect_series(TRUTH),
        "2023-09-01,berth-1,berth,1.0000,0.0100,0.9000,occupied",
        "2023-09-01,berth-1,berth,1.0000,0.0100,0.0500,empty",
    );
    let case = Case::standard(&series, TRUTH_EVENTS);
    let output = case.eval(&["--min-state-accuracy", "0.95", "--min-arrival-f1", "0.9"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("berth state accuracy is 0.9091, below the minimum 0.95"),
        "{message}"
    );
    assert!(!message.contains("arrival F1"), "{message}");
    let row = stdout(&output)
        .lines()
        .find(|l| l.starts_with("berth state accuracy"))
        .unwrap()
        .to_owned();
    assert!(row.ends_with("FAIL"), "{row}");

    let held = case.eval(&["--min-state-accuracy", "0.9", "--max-length-error-m", "0"]);
    assert_eq!(held.status.code(), Some(0), "{}", stderr(&held));
}

#[test]
fn malformed_flags_are_usage_errors() {
    let case = Case::perfect();
    for flags in [
        &["--min-arrival-f1", "high"][..],
        &["--max-yard-mae", "-1"],
        &["--min-nothing", "1"],
    ] {
        assert_eq!(case.eval(flags).status.code(), Some(2), "{flags:?}");
    }
    let output = Command::new(common::portwatch_bin())
        .args(["eval", "--truth", "somewhere"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// Runs on bad input: must exit 1 naming every culprit, without panicking or writing the JSON file.
fn assert_refused(case: &Case, culprits: &[&str]) {
    let json = case.result.path().join("eval.json");
    let output = case.eval(&["--json", json.to_str().unwrap()]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.starts_with("error: "), "{message}");
    for culprit in culprits {
        assert!(
            message.contains(culprit),
            "{message:?} should name {culprit:?}"
        );
    }
    assert!(!message.contains("panicked"), "{message}");
    assert!(!json.exists(), "no JSON after an error");
}

#[test]
fn bad_truth_is_refused_by_file_and_line() {
    let cases: [(String, &[&str]); 6] = [
        (
            TRUTH.replace("observed,occupied", "observed,busy"),
            &["truth.csv", "no column \"occupied\""],
        ),
        (
            TRUTH.replace(
                "2023-08-30,yard-a,yard,1,1,0.6,",
                "2023-08-30,yard-a,yard,1,1,0.6x,",
            ),
            &["truth.csv, line 7", "bad fill_fraction \"0.6x\""],
        ),
        (
            TRUTH.replace(
                "2023-08-30,yard-a,yard,1,1,0.6,",
                "2023-08-30,yard-a,yard,1,1,1.5,",
            ),
            &["truth.csv, line 7", "expected a number from 0 to 1"],
        ),
        (
            TRUTH.replace(
                "2023-09-01,berth-2,berth,1,0,,",
                "2023-09-01,berth-2,berth,yes,0,,",
            ),
            &["truth.csv, line 9", "bad observed \"yes\""],
        ),
        (
            TRUTH.replace(
                "2023-09-01,berth-2,berth,1,0,,",
                "2023-08-30,berth-1,berth,1,0,,",
            ),
            &["truth.csv, line 9", "duplicate row", "line 5"],
        ),
        (
            TRUTH.replace(
                "2023-09-01,berth-2,berth,1,0,,",
                "2023-09-31,berth-2,berth,1,0,,",
            ),
            &["truth.csv, line 9", "bad date \"2023-09-31\""],
        ),
    ];
    for (truth, culprits) in cases {
        let case = Case::new(
            &[("truth.csv", &truth), ("truth_events.csv", TRUTH_EVENTS)],
            &[
                ("series.csv", &perfect_series(TRUTH)),
                ("events.csv", TRUTH_EVENTS),
            ],
        );
        assert_refused(&case, culprits);
    }
    let events = TRUTH_EVENTS.replace(
        "2023-09-06,yard-a,yard,clear,",
        "2023-09-06,yard-a,yard,emptied,",
    );
    let case = Case::new(
        &[("truth.csv", TRUTH), ("truth_events.csv", &events)],
        &[
            ("series.csv", &perfect_series(TRUTH)),
            ("events.csv", TRUTH_EVENTS),
        ],
    );
    assert_refused(
        &case,
        &["truth_events.csv, line 7", "unknown event \"emptied\""],
    );
}

#[test]
fn bad_results_are_refused_by_file_and_line() {
    let series = perfect_series(TRUTH);
    let cases: [(String, &str, &[&str]); 8] = [
        (
            series.replace(",occupancy,state", ",occupancy,status"),
            TRUTH_EVENTS,
            &["series.csv", "no column \"state\""],
        ),
        (
            series.replace("0.9000,occupied", "0.9000,docked"),
            TRUTH_EVENTS,
            &["series.csv, line 5", "unknown state \"docked\""],
        ),
        (
            series.replace(
                "2023-08-28,yard-a,yard,1.0000,0.0100,0.1,",
                "2023-08-28,yard-a,yard,1.0000,0.0100,n/a,",
            ),
            TRUTH_EVENTS,
            &["series.csv, line 4", "bad occupancy \"n/a\""],
        ),
        (
            series.replace("2023-08-28,berth-2,", "2023-08-28,berth-1,"),
            TRUTH_EVENTS,
            &[
                "series.csv, line 3",
                "duplicate row: same date and region as line 2",
            ],
        ),
        (
            series.replace("2023-09-09,berth-2,", "2023-09-09,berth-9,"),
            TRUTH_EVENTS,
            &[
                "series.csv, line 18",
                "region \"berth-9\" is not in truth.csv",
            ],
        ),
        (
            series.replace("2023-09-09,berth-2,", "2023-09-10,berth-2,"),
            TRUTH_EVENTS,
            &[
                "series.csv, line 18",
                "2023-09-10 is not an acquisition date of truth.csv",
            ],
        ),
        (
            series.clone(),
            &TRUTH_EVENTS.replace(
                "2023-09-03,berth-2,berth,arrival,150",
                "2023-09-03,berth-2,yard,arrival,150",
            ),
            &[
                "events.csv, line 4",
                "region \"berth-2\" is a yard here but a berth in truth.csv",
            ],
        ),
        (
            series.clone(),
            &TRUTH_EVENTS.replace(
                "2023-09-03,berth-2,berth,arrival,150",
                "2023-09-03,berth-2,berth,arrival,150,extra",
            ),
            &["events.csv, line 4", "6 fields where the header has 5"],
        ),
    ];
    for (series, events, culprits) in cases {
        assert_refused(&Case::standard(&series, events), culprits);
    }
    let no_series = Case::new(&[("truth.csv", TRUTH)], &[("events.csv", TRUTH_EVENTS)]);
    assert_refused(&no_series, &["series.csv", "cannot read"]);
}
