//! Grouped horizontal bars: for each label, one bar per series (two clusters,
//! two periods, versions), with a legend on top.

use super::{empty, text_width, ticks, Canvas, PALETTE, WIDTH};
use crate::format;
use crate::model::Kind;

/// Most groups drawn; the table has the rest.
const MAX_GROUPS: usize = 15;
const BAR: f64 = 12.0;
const GROUP_GAP: f64 = 10.0;

pub(super) fn render(
    title: &str,
    unit: &str,
    series: &[String],
    groups: &[(String, Vec<f64>)],
    kind: Kind,
) -> String {
    let groups = &groups[..groups.len().min(MAX_GROUPS)];
    if groups.is_empty() || series.is_empty() {
        return empty("grouped-bar", title);
    }
    let labels: Vec<String> = groups.iter().map(|(l, _)| format::clip(l, 30)).collect();
    let left = labels
        .iter()
        .map(|l| text_width(l))
        .fold(40.0, f64::max)
        .min(220.0)
        + 12.0;
    let right = 64.0;
    let plot_w = WIDTH - left - right;
    let group_h = BAR * series.len() as f64 + GROUP_GAP;
    // Legend height is known only once drawn; draw it first on a scratch
    // canvas to measure, then lay out below it.
    let mut probe = Canvas::new("probe", "", 0.0);
    let legend_h = probe.legend(left, 6.0, series);
    let top = 6.0 + legend_h + 4.0;
    let plot_h = group_h * groups.len() as f64;
    let height = top + plot_h + 40.0;
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let (axis_max, tick_values) = ticks(max, 5);
    let x = |v: f64| left + plot_w * (v.max(0.0) / axis_max);

    let mut c = Canvas::new("grouped-bar", title, height);
    c.legend(left, 6.0, series);
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
    for (g, ((_, values), label)) in groups.iter().zip(&labels).enumerate() {
        let y0 = top + group_h * g as f64 + GROUP_GAP / 2.0;
        c.text(
            left - 8.0,
            y0 + BAR * series.len() as f64 / 2.0 + 4.0,
            "end",
            "#222",
            label,
        );
        for (i, (name, v)) in series.iter().zip(values).enumerate() {
            let y = y0 + BAR * i as f64;
            let tip = format!("{label}, {name}: {} {unit}", format::number(*v, kind));
            c.mark_rect(
                left,
                y,
                x(*v) - left,
                BAR - 1.0,
                PALETTE[i % PALETTE.len()],
                &tip,
            );
            c.text(
                x(*v) + 4.0,
                y + BAR - 2.5,
                "start",
                "#444",
                &format::compact(*v, kind),
            );
        }
    }
    c.line(left, top, left, top + plot_h, "#888");
    c.finish()
}
