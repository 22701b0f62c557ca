//! Grouped horizontal bars: for each label, one bar per series (two clusters,
//! two periods, versions), with a legend on top.

use super::haxis::HAxis;
use super::{empty, Canvas, PALETTE};
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
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let axis = HAxis::new(groups.iter().map(|(l, _)| l.as_str()), max);
    let group_h = BAR * series.len() as f64 + GROUP_GAP;
    // Legend height is known only once drawn; draw it first on a scratch
    // canvas to measure, then lay out below it.
    let mut probe = Canvas::new("probe", "", 0.0);
    let legend_h = probe.legend(axis.left, 6.0, series);
    let top = 6.0 + legend_h + 4.0;
    let plot_h = group_h * groups.len() as f64;
    let height = top + plot_h + 40.0;

    let mut c = Canvas::new("grouped-bar", title, height);
    c.legend(axis.left, 6.0, series);
    axis.draw(&mut c, top, plot_h, unit, kind);
    for (g, ((_, values), label)) in groups.iter().zip(&axis.labels).enumerate() {
        let y0 = top + group_h * g as f64 + GROUP_GAP / 2.0;
        c.text(
            axis.left - 8.0,
            y0 + BAR * series.len() as f64 / 2.0 + 4.0,
            "end",
            "#222",
            label,
        );
        for (i, (name, v)) in series.iter().zip(values).enumerate() {
            let y = y0 + BAR * i as f64;
            let tip = format!("{label}, {name}: {} {unit}", format::number(*v, kind));
            c.mark_rect(
                axis.left,
                y,
                axis.x(*v) - axis.left,
                BAR - 1.0,
                PALETTE[i % PALETTE.len()],
                &tip,
            );
            c.text(
                axis.x(*v) + 4.0,
                y + BAR - 2.5,
                "start",
                "#444",
                &format::compact(*v, kind),
            );
        }
    }
    axis.baseline(&mut c, top, plot_h);
    c.finish()
}
