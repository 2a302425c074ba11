//! `portwatch evaluate-pairs` on the real labelled imagery of the data folder ($PORTWATCH_DATA, default
//! ../shared/data beside the checkout): SKIPPED when it is absent. The figures are those of
//! EVALUATION.md; the goal (F1 at least 1.3 x the baseline's) is asserted where it is reached,
//! and the measured level as a floor where it is not; the 13-band OSCD Mumbai rows when that folder is
//! present, SKIPPED when it is not.

mod common;

use common::{data_folder, portwatch_bin};

#[test]
fn pair_beats_the_classical_baseline_on_real_imagery() {
    let data = data_folder();
    if !data.join("oscd-rgb").is_dir() {
        eprintln!(
            "SKIPPED pair_beats_the_classical_baseline_on_real_imagery: no data folder at {} (set PORTWATCH_DATA)",
            data.display()
        );
        return;
    }
    let output = std::process::Command::new(portwatch_bin())
        .args(["evaluate-pairs", "--device", "cpu", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    eprintln!("{table}");
    let ratio = |dataset: &str| -> f64 {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {dataset} |")))
            .unwrap_or_else(|| panic!("no row for {dataset}:\n{table}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (pair_f1, baseline_f1): (f64, f64) =
            (cells[5].parse().unwrap(), cells[8].parse().unwrap());
        pair_f1 / baseline_f1
    };
    assert!(ratio("oscd-rgb") >= 1.3, "{table}");
    // Below the goal (see EVALUATION.md): floors at the measured level, so that a regression shows.
    assert!(ratio("levir-cd") >= 1.05, "{table}");
    assert!(ratio("dsifn-cd") >= 0.85, "{table}");
    if data.join("oscd-13band/mumbai").is_dir() {
        // The 10 m bands alone reach the goal; all 13 bands do not (floor at the measured 1.13).
        assert!(ratio("oscd-13band-10m") >= 1.3, "{table}");
        assert!(ratio("oscd-13band") >= 1.1, "{table}");
    } else {
        eprintln!(
            "SKIPPED the oscd-13band rows: no {} (set PORTWATCH_DATA)",
            data.join("oscd-13band/mumbai").display()
        );
    }
}
