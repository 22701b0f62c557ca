//! Lines over an ordered axis (weeks), one per series, with dots at the
//! points and a legend on top.

use super::{empty, esc, ticks, Canvas, PALETTE, WIDTH};
use crate::format;
use crate::model::Kind;
use std::fmt::Write;

/// Most series drawn (more lines stop being readable).
const MAX_SERIES: usize = 8;
/// Most x labels written; the others are skipped evenly.
const MAX_X_LABELS: usize = 10;

pub(super) fn render(
    title: &str,
    unit: &str,
    x: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let series = &series[..series.len().min(MAX_SERIES)];
    if x.is_empty() || series.is_empty() {
        return empty("line", title);
    }
    let names: Vec<String> = series.iter().map(|(n, _)| n.clone()).collect();
    let (left, right) = (56.0, 24.0);
    let mut probe = Canvas::new("probe", "", 0.0);
    let legend_h = probe.legend(left, 6.0, &names);
    let top = 6.0 + legend_h + 8.0;
    let plot_h = 220.0;
    let plot_w = WIDTH - left - right;
    let height = top + plot_h + 48.0;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let (axis_max, tick_values) = ticks(max, 5);
    let n = x.len();
    let px = |i: usize| {
        if n == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let py = |v: f64| top + plot_h - plot_h * (v.max(0.0) / axis_max);

    let mut c = Canvas::new("line", title, height);
    c.legend(left, 6.0, &names);
    for t in &tick_values {
        c.line(left, py(*t), left + plot_w, py(*t), "#e4e4e4");
        c.text(
            left - 6.0,
            py(*t) + 4.0,
            "end",
            "#555",
            &format::compact(*t, Kind::Count),
        );
    }
    let every = n.div_ceil(MAX_X_LABELS).max(1);
    for (i, label) in x.iter().enumerate() {
        if i % every == 0 || i == n - 1 && n <= MAX_X_LABELS {
            c.text(px(i), top + plot_h + 16.0, "middle", "#555", label);
        }
    }
    c.text(
        left + plot_w / 2.0,
        top + plot_h + 36.0,
        "middle",
        "#333",
        unit,
    );
    for (s, (name, values)) in series.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let mut points = String::new();
        for (i, v) in values.iter().enumerate().take(n) {
            let _ = write!(points, "{:.1},{:.1} ", px(i), py(*v));
        }
        let mut path = String::new();
        let _ = write!(
            path,
            "<polyline class=\"mark\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
             points=\"{}\"><title>{}</title></polyline>",
            points.trim_end(),
            esc(name)
        );
        c.raw(&path);
        for (i, v) in values.iter().enumerate().take(n) {
            let mut dot = String::new();
            let _ = write!(
                dot,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\">\
                 <title>{}, {}: {}</title></circle>",
                px(i),
                py(*v),
                esc(name),
                esc(&x[i]),
                format::number(*v, Kind::Count)
            );
            c.raw(&dot);
        }
    }
    c.line(left, top + plot_h, left + plot_w, top + plot_h, "#888");
    c.finish()
}
