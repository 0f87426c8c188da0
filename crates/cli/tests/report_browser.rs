//! report.html in a real browser: headless Chromium (Debian's package) loads it from disk with
//! the network off, draws every chart without a console error, and a screenshot is saved.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{jifen, run, temp_dir};

fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return candidate.into();
        }
    }
    panic!("Chromium is not installed: scripts/test installs Debian's chromium package; this test never skips");
}

fn headless(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Where screenshots are kept for people to look at: `target/screenshots/`.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `jifen simulate` of the shipped bank-run scenario into a fresh folder: the folder and the
/// report's URL.
fn bank_run_report(name: &str) -> (PathBuf, String) {
    let tmp = temp_dir(name);
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/bank-run.toml");
    let (o, described) = run(jifen()
        .arg("simulate")
        .arg(&scenario)
        .arg("--out")
        .arg(&tmp));
    assert!(o.status.success(), "{described}");
    let url = format!("file://{}", tmp.join("report.html").display());
    (tmp, url)
}

#[test]
fn the_report_renders_its_charts_without_console_errors() {
    let (tmp, url) = bank_run_report("report-browser");

    let (out, described) = run(headless(&tmp.join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url));
    assert!(out.status.success(), "{described}");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains(r#"data-status="rendered""#),
        "the charts did not finish drawing:\n{described}"
    );
    assert!(
        dom.contains(r#"data-charts="6""#),
        "not every chart was drawn:\n{described}"
    );
    assert_eq!(
        dom.matches(r#"class="uplot"#).count(),
        6,
        "six uPlot charts"
    );
    assert!(
        dom.matches("<canvas").count() >= 6,
        "each chart draws on a canvas"
    );
    assert!(
        dom.contains("every one was paid from the reserve"),
        "the headline about the run"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    for width in [1280, 375] {
        let shot = screenshot_dir().join(format!("report-bank-run-{width}.png"));
        let _ = std::fs::remove_file(&shot);
        let (out, described) = run(headless(&tmp.join(format!("profile-{width}")))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("--window-size={width},2400"))
            .arg(&url));
        assert!(out.status.success(), "{described}");
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "screenshot {} is missing or empty:\n{described}",
            shot.display()
        );
    }
}

#[path = "web/browser.rs"]
#[allow(dead_code)]
mod browser;

/// The report speaks Chinese first and English on the switch, with thousands separators, and
/// fits a 375 px phone in both (issue 23); screenshots of each are saved.
#[test]
fn the_report_reads_in_both_languages_on_a_phone() {
    let (_, url) = bank_run_report("report-languages");
    let b = browser::Browser::start();
    let text = || {
        b.script("return document.body.innerText", serde_json::json!([]))
            .as_str()
            .unwrap()
            .to_string()
    };
    for width in [375, 1280] {
        b.resize(width);
        b.open(&url);
        b.wait_for("return document.body.dataset.status", "rendered");
        let zh = text();
        assert!(
            zh.contains("全部由储备金兑付") && zh.contains("谁得到了什么"),
            "{zh}"
        );
        assert!(!zh.contains("Who gained"), "only Chinese shows: {zh}");
        let grouped = zh.split_whitespace().any(|w| {
            w.contains(',')
                && w.trim_end_matches('元')
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        });
        assert!(grouped, "sums have thousands separators: {zh}");
        check_fits(&b, width, "zh");
        b.screenshot(&format!("report-bank-run-zh-{width}px"));
        b.click("#lang");
        b.wait_for("return document.documentElement.lang", "en");
        let en = text();
        assert!(en.contains("every one was paid from the reserve"), "{en}");
        assert!(
            !en.to_lowercase().contains("dividend"),
            "neutral words: {en}"
        );
        check_fits(&b, width, "en");
        b.screenshot(&format!("report-bank-run-en-{width}px"));
    }
    assert_eq!(b.console_problems(), Vec::<String>::new());
}

fn check_fits(b: &browser::Browser, width: u32, lang: &str) {
    if width == 375 {
        let (over, culprits) = b.overflow();
        assert_eq!(over, 0, "the {lang} report overflows 375 px: {culprits:?}");
    }
}
