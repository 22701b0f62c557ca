//! What the horizontal bar charts (bar, grouped bar) share: a column of
//! labels on the left, a value axis with round ticks and grid lines, the
//! unit under it, and a baseline.

use super::{text_width, ticks, Canvas, WIDTH};
use crate::format;
use crate::model::Kind;

/// Room right of the plot for the value printed at a bar's end.
const RIGHT: f64 = 64.0;

/// The layout of a horizontal bar chart's value axis.
pub(super) struct HAxis {
    /// The labels, clipped to fit the label column.
    pub labels: Vec<String>,
    /// Left edge of the plot (right of the labels).
    pub left: f64,
    /// Width of the plot.
    pub plot_w: f64,
    axis_max: f64,
    ticks: Vec<f64>,
}

impl HAxis {
    /// Lay out an axis for these labels and values up to `max`.
    pub fn new<'a>(labels: impl Iterator<Item = &'a str>, max: f64) -> HAxis {
        let labels: Vec<String> = labels.map(|l| format::clip(l, 30)).collect();
        let left = labels
            .iter()
            .map(|l| text_width(l))
            .fold(40.0, f64::max)
            .min(220.0)
            + 12.0;
        let (axis_max, ticks) = ticks(max, 5);
        HAxis {
            labels,
            left,
            plot_w: WIDTH - left - RIGHT,
            axis_max,
            ticks,
        }
    }

    /// Horizontal position of a value (negative values at the baseline).
    pub fn x(&self, v: f64) -> f64 {
        self.left + self.plot_w * (v.max(0.0) / self.axis_max)
    }

    /// Grid lines and tick labels over a plot from `top`, `plot_h` high,
    /// and the unit under it.
    pub fn draw(&self, c: &mut Canvas, top: f64, plot_h: f64, unit: &str, kind: Kind) {
        for t in &self.ticks {
            c.line(self.x(*t), top, self.x(*t), top + plot_h, "#e4e4e4");
            c.text(
                self.x(*t),
                top + plot_h + 15.0,
                "middle",
                "#555",
                &format::compact(*t, kind),
            );
        }
        c.text(
            self.left + self.plot_w / 2.0,
            top + plot_h + 32.0,
            "middle",
            "#333",
            unit,
        );
    }

    /// The baseline, drawn over the bars' left ends.
    pub fn baseline(&self, c: &mut Canvas, top: f64, plot_h: f64) {
        c.line(self.left, top, self.left, top + plot_h, "#888");
    }
}
