//! Vertical bars over ordered bins (job size in nodes, processes per job).

use super::{empty, ticks, Canvas, PALETTE, WIDTH};
use crate::format;
use crate::model::Kind;

/// Most bin labels written; the others are skipped evenly.
const MAX_X_LABELS: usize = 16;

pub(super) fn render(title: &str, unit: &str, x_label: &str, bins: &[(String, f64)]) -> String {
    if bins.is_empty() {
        return empty("histogram", title);
    }
    let (left, right, top) = (56.0, 16.0, 12.0);
    let plot_w = WIDTH - left - right;
    let plot_h = 200.0;
    let height = top + plot_h + 52.0;
    let max = bins.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let (axis_max, tick_values) = ticks(max, 5);
    let py = |v: f64| top + plot_h - plot_h * (v.max(0.0) / axis_max);
    let slot = plot_w / bins.len() as f64;
    let gap = (slot * 0.12).min(6.0);

    let mut c = Canvas::new("histogram", title, height);
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
    let every = bins.len().div_ceil(MAX_X_LABELS).max(1);
    for (i, (label, v)) in bins.iter().enumerate() {
        let x = left + slot * i as f64;
        let tip = format!(
            "{x_label} {label}: {} {unit}",
            format::number(*v, Kind::Count)
        );
        c.mark_rect(
            x + gap / 2.0,
            py(*v),
            slot - gap,
            top + plot_h - py(*v),
            PALETTE[0],
            &tip,
        );
        if i % every == 0 {
            c.text(
                x + slot / 2.0,
                top + plot_h + 16.0,
                "middle",
                "#555",
                &format::clip(label, 8),
            );
        }
    }
    c.line(left, top + plot_h, left + plot_w, top + plot_h, "#888");
    c.text(
        left + plot_w / 2.0,
        top + plot_h + 36.0,
        "middle",
        "#333",
        x_label,
    );
    c.text_rotated(14.0, top + plot_h / 2.0, -90.0, "middle", unit);
    c.finish()
}
