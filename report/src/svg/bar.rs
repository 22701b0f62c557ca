//! Horizontal bars: one per label, value at the bar's end.

use super::haxis::HAxis;
use super::{empty, Canvas, PALETTE};
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
    let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let axis = HAxis::new(bars.iter().map(|(l, _)| l.as_str()), max);
    let top = 8.0;
    let plot_h = ROW * bars.len() as f64;
    let height = top + plot_h + 40.0;

    let mut c = Canvas::new("bar", title, height);
    axis.draw(&mut c, top, plot_h, unit, kind);
    for (i, ((_, v), label)) in bars.iter().zip(&axis.labels).enumerate() {
        let y = top + ROW * i as f64 + (ROW - BAR) / 2.0;
        c.text(axis.left - 8.0, y + BAR / 2.0 + 4.0, "end", "#222", label);
        let tip = format!("{label}: {} {unit}", format::number(*v, kind));
        c.mark_rect(axis.left, y, axis.x(*v) - axis.left, BAR, PALETTE[0], &tip);
        c.text(
            axis.x(*v) + 4.0,
            y + BAR / 2.0 + 4.0,
            "start",
            "#222",
            &format::compact(*v, kind),
        );
    }
    axis.baseline(&mut c, top, plot_h);
    c.finish()
}
