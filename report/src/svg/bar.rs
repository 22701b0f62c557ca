//! Horizontal bars: one per label, value at the bar's end.

use super::{empty, text_width, ticks, Canvas, PALETTE, WIDTH};
use crate::format;
use crate::model::Kind;

/// Most bars drawn; the table below the chart has the rest.
const MAX_BARS: usize = 20;
const ROW: f64 = 24.0;
const BAR: f64 = 17.0;

pub(super) fn render(title: &str, unit: &str, bars: &[(String, f64)], kind: Kind) -> String {
    let bars = &bars[..bars.len().min(MAX_BARS)];
    if bars.is_empty() {
        return empty("bar", title);
    }
    let labels: Vec<String> = bars.iter().map(|(l, _)| format::clip(l, 30)).collect();
    let left = labels
        .iter()
        .map(|l| text_width(l))
        .fold(40.0, f64::max)
        .min(220.0)
        + 12.0;
    let right = 64.0;
    let top = 8.0;
    let plot_w = WIDTH - left - right;
    let plot_h = ROW * bars.len() as f64;
    let height = top + plot_h + 40.0;
    let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let (axis_max, tick_values) = ticks(max, 5);
    let x = |v: f64| left + plot_w * (v / axis_max);

    let mut c = Canvas::new("bar", title, height);
    for t in &tick_values {
        c.line(x(*t), top, x(*t), top + plot_h, "#e4e4e4");
        c.text(
            x(*t),
            top + plot_h + 15.0,
            "middle",
            "#555",
            &format::compact(*t, kind),
        );
    }
    c.text(
        left + plot_w / 2.0,
        top + plot_h + 32.0,
        "middle",
        "#333",
        unit,
    );
    for (i, ((_, v), label)) in bars.iter().zip(&labels).enumerate() {
        let y = top + ROW * i as f64 + (ROW - BAR) / 2.0;
        c.text(left - 8.0, y + BAR / 2.0 + 4.0, "end", "#222", label);
        let tip = format!("{label}: {} {unit}", format::number(*v, kind));
        c.mark_rect(left, y, x(*v) - left, BAR, PALETTE[0], &tip);
        c.text(
            x(*v) + 4.0,
            y + BAR / 2.0 + 4.0,
            "start",
            "#222",
            &format::compact(*v, kind),
        );
    }
    c.line(left, top, left, top + plot_h, "#888");
    c.finish()
}
