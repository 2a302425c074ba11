//! The report of the sample run as a browser draws it: headless Chromium (Debian's `chromium` package)
//! renders report.html, and the test checks the DOM (one occupancy chart per region, the bar charts, two
//! pictures per event), the console (no message at all: the page runs no script and loads nothing), and a
//! screenshot: not blank, the charts' colours on it, and every event picture drawn inside its frame with
//! image content, the change tinted on the second.
//!
//! Without `chromium` on the PATH the test says it skipped, unless `PORTWATCH_REQUIRE_BROWSER=1` (set by
//! `.ci/run`) makes that a failure.

mod common;

use base64::Engine;
use image::RgbImage;
use std::path::Path;
use std::process::Command;

const BROWSER: &str = "chromium";
/// The window: wide enough for the page's layout, tall enough to show all of the sample's report.
const WINDOW: (u32, u32) = (1280, 16000);
/// The colours the page's style sheet gives to what the test looks for.
const FRAME: [u8; 3] = [0x12, 0x34, 0x56];
const FRAME_WIDTH: u32 = 3;
const BAR_AND_LINE: [u8; 3] = [0x1f, 0x5f, 0xa8];
const UNOBSERVED: [u8; 3] = [0xd9, 0xd9, 0xd9];
const ARRIVAL: [u8; 3] = [0x1a, 0x96, 0x41];

fn browser_required() -> bool {
    std::env::var("PORTWATCH_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

fn browser_installed() -> bool {
    Command::new(BROWSER)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs headless Chromium on `page` with `mode` (`--dump-dom`, `--screenshot=...`); returns stdout and
/// the console messages it logged.
fn chromium(page: &Path, mode: &str, profile: &Path) -> (String, Vec<String>) {
    let (width, height) = WINDOW;
    let output = Command::new(BROWSER)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},{height}"),
            mode,
        ])
        .arg(format!("file://{}", page.display()))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        console,
    )
}

/// The bounding boxes `[x0, y0, x1, y1]` (inclusive) of the connected areas of colour `colour`.
fn areas_of(image: &RgbImage, colour: [u8; 3]) -> Vec<[u32; 4]> {
    let (width, height) = image.dimensions();
    let mut seen = vec![false; (width * height) as usize];
    let mut areas = Vec::new();
    for start in 0..width * height {
        let (x, y) = (start % width, start / width);
        if seen[start as usize] || image.get_pixel(x, y).0 != colour {
            continue;
        }
        let mut bounds = [x, y, x, y];
        let mut stack = vec![(x, y)];
        seen[start as usize] = true;
        while let Some((x, y)) = stack.pop() {
            bounds = [
                bounds[0].min(x),
                bounds[1].min(y),
                bounds[2].max(x),
                bounds[3].max(y),
            ];
            let neighbours = [
                (x.wrapping_sub(1), y),
                (x + 1, y),
                (x, y.wrapping_sub(1)),
                (x, y + 1),
            ];
            for (nx, ny) in neighbours {
                if nx < width && ny < height {
                    let index = (ny * width + nx) as usize;
                    if !seen[index] && image.get_pixel(nx, ny).0 == colour {
                        seen[index] = true;
                        stack.push((nx, ny));
                    }
                }
            }
        }
        areas.push(bounds);
    }
    areas
}

fn count_colour(image: &RgbImage, colour: [u8; 3]) -> usize {
    image.pixels().filter(|p| p.0 == colour).count()
}

#[test]
fn the_sample_report_renders_in_headless_chromium() {
    if !browser_installed() {
        assert!(
            !browser_required(),
            "{BROWSER} is not installed and PORTWATCH_REQUIRE_BROWSER=1"
        );
        eprintln!(
            "SKIPPED the_sample_report_renders_in_headless_chromium: {BROWSER} is not installed \
             (apt-get install chromium); set PORTWATCH_REQUIRE_BROWSER=1 to make this a failure"
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(common::portwatch_bin())
        .args(["run", "--report", "--device", "cpu", "--quiet", "--out"])
        .arg(out.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("portwatch runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let profile = tempfile::tempdir().unwrap();

    // The console check must see a console message when there is one.
    let probe = out.path().join("console-probe.html");
    std::fs::write(&probe, "<script>console.error('portwatch probe')</script>").unwrap();
    let (_, console) = chromium(&probe, "--dump-dom", profile.path());
    assert!(
        console.iter().any(|line| line.contains("portwatch probe")),
        "the console messages are not seen on stderr: {console:?}"
    );

    let page = out.path().join("report.html");
    let (dom, console) = chromium(&page, "--dump-dom", profile.path());
    assert!(console.is_empty(), "console messages: {console:?}");
    let events = std::fs::read_to_string(out.path().join("events.csv")).unwrap();
    let event_count = events.lines().count() - 1;
    let fills = events.lines().filter(|l| l.contains(",fill,")).count();
    let count = |needle: &str| dom.matches(needle).count();
    assert_eq!(
        count("class=\"chart occupancy\""),
        6,
        "one occupancy chart per region"
    );
    assert_eq!(count("class=\"chart arrivals\""), 1);
    assert_eq!(count("class=\"chart fill-lead\""), 1);
    // A bar per month of the sample (August to October) and per yard fill.
    assert_eq!(count("<rect class=\"bar\""), 3 + fills);
    assert_eq!(
        count("class=\"event "),
        event_count,
        "each event marked on its chart"
    );
    assert_eq!(count("class=\"thumbnail before\""), event_count);
    assert_eq!(count("class=\"thumbnail after\""), event_count);

    let screenshot = out.path().join("report.png");
    let (_, console) = chromium(
        &page,
        &format!("--screenshot={}", screenshot.display()),
        profile.path(),
    );
    assert!(console.is_empty(), "console messages: {console:?}");
    let shot = image::open(&screenshot).unwrap().into_rgb8();
    assert_eq!(shot.dimensions(), WINDOW);
    let white = count_colour(&shot, [255; 3]);
    let total = shot.pixels().count();
    assert!(
        white < total * 9 / 10,
        "the screenshot is nearly blank: {white} of {total} pixels white"
    );
    assert!(
        count_colour(&shot, BAR_AND_LINE) > 5000,
        "bars and lines are drawn"
    );
    assert!(
        count_colour(&shot, UNOBSERVED) > 500,
        "unobserved dates are shaded"
    );
    assert!(count_colour(&shot, ARRIVAL) > 100, "arrivals are marked");

    // Every picture: inside its frame, the page's image drawn pixel for pixel (not a broken-image icon);
    // on the second of each pair, the change tinted magenta exactly when the page says pixels changed
    // (the scenes' masks can hide all of a change).
    let pictures: Vec<RgbImage> = dom
        .split("class=\"thumbnail ")
        .skip(1)
        .map(|svg| {
            let payload = svg.split_once("base64,").unwrap().1;
            let payload = &payload[..payload.find('"').unwrap()];
            let png = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap();
            image::load_from_memory(&png).unwrap().into_rgb8()
        })
        .collect();
    assert_eq!(pictures.len(), 2 * event_count);
    let changed_px: Vec<u64> = dom
        .split("<tr class=\"event-row\">")
        .skip(1)
        .map(|row| {
            let last_cell = row.rsplit("<td class=\"number\">").next().unwrap();
            last_cell[..last_cell.find('<').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(changed_px.len(), event_count);
    let frames: Vec<[u32; 4]> = areas_of(&shot, FRAME)
        .into_iter()
        .filter(|[x0, y0, x1, y1]| x1 - x0 > 30 && y1 - y0 > 30)
        .collect();
    assert_eq!(
        frames.len(),
        2 * event_count,
        "every picture is on the screenshot"
    );
    // Areas are found row by row: each event's two pictures, side by side, in event order.
    for ((index, &[x0, y0, x1, y1]), picture) in frames.iter().enumerate().zip(&pictures) {
        assert_eq!(frames[index ^ 1][1], y0, "before and after side by side");
        let (left, top) = (x0 + FRAME_WIDTH, y0 + FRAME_WIDTH);
        let (shown_width, shown_height) = (x1 + 1 - FRAME_WIDTH - left, y1 + 1 - FRAME_WIDTH - top);
        let (width, height) = picture.dimensions();
        let mut matching = 0;
        for (x, y, pixel) in picture.enumerate_pixels() {
            let screen_x =
                left + ((f64::from(x) + 0.5) * f64::from(shown_width) / f64::from(width)) as u32;
            let screen_y =
                top + ((f64::from(y) + 0.5) * f64::from(shown_height) / f64::from(height)) as u32;
            let shown = shot.get_pixel(screen_x, screen_y).0;
            matching += usize::from(shown.iter().zip(pixel.0).all(|(&a, b)| a.abs_diff(b) <= 2));
        }
        let pixels = (width * height) as usize;
        // A picture that is not drawn matches almost nothing; a drawn one loses some pixels to the
        // browser's resampling along thin outlines (a yard's stacking blocks are many).
        assert!(
            matching * 10 >= pixels * 8,
            "the picture framed at ({x0}, {y0}) shows only {matching} of its {pixels} pixels"
        );
        if index % 2 == 1 {
            let changed = changed_px[index / 2];
            let magenta = (top..top + shown_height)
                .flat_map(|y| (left..left + shown_width).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let [r, g, b] = shot.get_pixel(x, y).0;
                    r > 150 && g < 110 && b > 150
                })
                .count();
            assert_eq!(
                magenta > 0,
                changed > 0,
                "the picture at ({x0}, {y0}) has {magenta} magenta pixels for {changed} changed"
            );
        }
    }
}
