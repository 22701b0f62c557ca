//! The Chromium harness detects what the HTML report test relies on it to
//! detect: a console error, a request leaving the file (with and without a
//! Content-Security-Policy), and a chart frame with nothing drawn in it.

use pyusage_tests::chromium;
use pyusage_tests::{or_skip, skip};
use std::path::PathBuf;

fn page(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(
        &p,
        format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\">{body}</html>"),
    )
    .unwrap();
    p
}

fn need_chromium() -> Option<()> {
    chromium::chromium().map(|_| ())
}

#[test]
fn a_console_error_and_an_exception_are_seen() {
    or_skip!(
        need_chromium(),
        "chromium is not installed (tests/fixtures/system-deps.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = page(
        &dir,
        "err.html",
        "</head><body><script>console.error('boom-1'); null.x;</script></body>",
    );
    let got = chromium::open(&p).unwrap();
    assert!(
        got.errors.iter().any(|e| e.contains("boom-1")),
        "{:?}",
        got.errors
    );
    assert!(
        got.errors.iter().any(|e| e.starts_with("exception")),
        "{:?}",
        got.errors
    );
}

#[test]
fn a_request_that_leaves_the_file_is_seen() {
    or_skip!(
        need_chromium(),
        "chromium is not installed (tests/fixtures/system-deps.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: refused at once, but the request is made.
    let p = page(
        &dir,
        "req.html",
        "</head><body><img src=\"http://127.0.0.1:9/pixel.png\"></body>",
    );
    let got = chromium::open(&p).unwrap();
    assert!(
        got.requests.iter().any(|u| u.contains("127.0.0.1:9")),
        "{:?}",
        got.requests
    );
}

#[test]
fn the_report_policy_blocks_a_request_and_says_so() {
    or_skip!(
        need_chromium(),
        "chromium is not installed (tests/fixtures/system-deps.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = page(
        &dir,
        "csp.html",
        &format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\"></head>\
             <body><img src=\"http://127.0.0.1:9/pixel.png\"></body>",
            pyusage_report::html::CSP
        ),
    );
    let got = chromium::open(&p).unwrap();
    assert!(got.requests.is_empty(), "{:?}", got.requests);
    assert_eq!(got.blocked, ["http://127.0.0.1:9/pixel.png"]);
    assert!(
        got.errors
            .iter()
            .any(|e| e.contains("Content Security Policy")),
        "a blocked load is reported as an error: {:?}",
        got.errors
    );
}

#[test]
fn an_empty_chart_frame_counts_no_marks_and_no_colour() {
    let Some(_) = chromium::chromium() else {
        skip!("chromium is not installed (tests/fixtures/system-deps.sh)");
    };
    let dir = tempfile::tempdir().unwrap();
    let p = page(
        &dir,
        "empty.html",
        "</head><body>\
         <section data-section=\"a\"><svg class=\"chart\" data-chart=\"bar\" width=\"300\" height=\"100\">\
           <rect class=\"mark\" x=\"10\" y=\"10\" width=\"0\" height=\"0\" fill=\"#4e79a7\"/>\
           <text x=\"150\" y=\"50\">no data</text></svg></section>\
         <section data-section=\"b\"><svg class=\"chart\" data-chart=\"bar\" width=\"300\" height=\"100\">\
           <rect class=\"mark\" x=\"10\" y=\"10\" width=\"200\" height=\"20\" fill=\"#4e79a7\"/></svg></section>\
         </body>",
    );
    let got = chromium::open(&p).unwrap();
    assert_eq!(got.sections.len(), 2, "{:?}", got.sections);
    let a = &got.sections[0].charts[0];
    assert_eq!((a.marks, a.coloured_pixels), (0, 0), "{a:?}");
    let b = &got.sections[1].charts[0];
    assert_eq!(b.marks, 1, "{b:?}");
    // 200 x 20 px of colour, give or take antialiasing at the edges.
    assert!((3800..=4400).contains(&b.coloured_pixels), "{b:?}");
    assert!(got.screenshot.starts_with(b"\x89PNG"));
}
