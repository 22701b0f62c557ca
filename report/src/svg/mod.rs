//! Charts as inline SVG, drawn here so the HTML page needs no script and no
//! fetch. One module per chart type; this one holds what they share: the
//! canvas, scales with round ticks, the palette, escaping.
//!
//! Every shape that carries data has `class="mark"`, so a test (or a reader
//! of the page source) can tell a drawn chart from an empty frame.

mod bar;
mod grouped;
mod haxis;
mod heatmap;
mod histogram;
mod line;

use crate::model::Chart;
use std::fmt::Write;

/// Width of every chart's view box (pixels at 100% zoom).
pub const WIDTH: f64 = 720.0;

/// Approximate width of one character at the chart font size (12 px).
const CHAR_W: f64 = 6.6;

/// Categorical colours (Tableau 10): distinct for common colour blindness,
/// readable on white.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Draw a chart.
pub fn render(chart: &Chart) -> String {
    match chart {
        Chart::Bar {
            title,
            unit,
            bars,
            kind,
        } => bar::render(title, unit, bars, *kind),
        Chart::GroupedBar {
            title,
            unit,
            series,
            groups,
            kind,
        } => grouped::render(title, unit, series, groups, *kind),
        Chart::Line {
            title,
            unit,
            x,
            series,
        } => line::render(title, unit, x, series),
        Chart::HeatMap {
            title,
            labels,
            cells,
        } => heatmap::render(title, labels, cells),
        Chart::Histogram {
            title,
            unit,
            x_label,
            bins,
        } => histogram::render(title, unit, x_label, bins),
    }
}

/// An SVG document being written.
pub(crate) struct Canvas {
    out: String,
}

impl Canvas {
    /// Open an `<svg>` of [`WIDTH`] x `height` for a chart of `kind`.
    pub fn new(kind: &str, title: &str, height: f64) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"chart\" data-chart=\"{kind}\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" \
             role=\"img\" aria-label=\"{t}\" font-family=\"system-ui, sans-serif\" \
             font-size=\"12\"><title>{t}</title>",
            t = esc(title)
        );
        Canvas { out }
    }

    /// Append raw markup.
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// A data-carrying rectangle.
    pub fn mark_rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: &str) {
        let _ = write!(
            self.out,
            "<rect class=\"mark\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"{fill}\"><title>{}</title></rect>",
            w.max(0.0),
            h.max(0.0),
            esc(tip)
        );
    }

    /// A plain rectangle (frame, legend swatch).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"/>"
        );
    }

    /// A line segment.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        let _ = write!(
            self.out,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\"/>"
        );
    }

    /// Text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, fill: &str, s: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{fill}\">{}</text>",
            esc(s)
        );
    }

    /// Text rotated by `deg` around its anchor point.
    pub fn text_rotated(&mut self, x: f64, y: f64, deg: f64, anchor: &str, s: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"#333\" \
             transform=\"rotate({deg} {x:.1} {y:.1})\">{}</text>",
            esc(s)
        );
    }

    /// A legend row of swatches and names starting at `(x, y)`; wraps within
    /// the chart width. Returns the height used.
    pub fn legend(&mut self, x0: f64, y0: f64, names: &[String]) -> f64 {
        let (mut x, mut y) = (x0, y0);
        for (i, n) in names.iter().enumerate() {
            let label = crate::format::clip(n, 24);
            let w = 14.0 + text_width(&label) + 16.0;
            if x + w > WIDTH - 8.0 && x > x0 {
                x = x0;
                y += 18.0;
            }
            self.rect(x, y, 10.0, 10.0, PALETTE[i % PALETTE.len()]);
            self.text(x + 14.0, y + 9.5, "start", "#333", &label);
            x += w;
        }
        y - y0 + 18.0
    }

    /// Close the document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A chart with nothing to draw: a frame that says so.
pub(crate) fn empty(kind: &str, title: &str) -> String {
    let mut c = Canvas::new(kind, title, 60.0);
    c.text(WIDTH / 2.0, 34.0, "middle", "#777", "no data");
    c.finish()
}

/// Estimated width of `s` in the chart font.
pub(crate) fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

/// A linear scale from `0..=max` with round ticks: returns the axis maximum
/// (>= `max`) and the tick values (about `n` of them).
pub(crate) fn ticks(max: f64, n: usize) -> (f64, Vec<f64>) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let top = (max / step).ceil() * step;
    let count = (top / step).round() as usize;
    (top, (0..=count).map(|i| i as f64 * step).collect())
}

/// Escape text for SVG/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Colour for a value in `-1..=1`: blue through white to red.
pub(crate) fn diverging(v: f64) -> String {
    let v = v.clamp(-1.0, 1.0);
    let (lo, mid, hi) = (
        (33.0, 102.0, 172.0),
        (247.0, 247.0, 247.0),
        (178.0, 24.0, 43.0),
    );
    let (a, b, t) = if v < 0.0 { (mid, lo, -v) } else { (mid, hi, v) };
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        let (top, t) = ticks(87.0, 5);
        assert_eq!(top, 100.0);
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (top, t) = ticks(0.62, 4);
        assert!((top - 0.8).abs() < 1e-9, "{top}");
        assert_eq!(t.len(), 5);
        let (top, _) = ticks(0.0, 5);
        assert_eq!(top, 1.0);
    }

    #[test]
    fn escaping_keeps_markup_out() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn diverging_runs_blue_white_red() {
        assert_eq!(diverging(-1.0), "#2166ac");
        assert_eq!(diverging(0.0), "#f7f7f7");
        assert_eq!(diverging(1.0), "#b2182b");
    }

    fn marks(svg: &str) -> usize {
        svg.matches("class=\"mark\"").count()
    }

    #[test]
    fn every_chart_type_draws_one_mark_per_value() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let bar = render(&Chart::Bar {
            title: "t".into(),
            unit: "users".into(),
            bars: vec![("numpy".into(), 10.0), ("scipy".into(), 4.0)],
            kind: Kind::Count,
        });
        assert_eq!(marks(&bar), 2);
        let grouped = render(&Chart::GroupedBar {
            title: "t".into(),
            unit: "jobs".into(),
            series: s(&["a", "b"]),
            groups: vec![
                ("numpy".into(), vec![1.0, 2.0]),
                ("scipy".into(), vec![3.0, 0.0]),
            ],
            kind: Kind::Count,
        });
        assert_eq!(marks(&grouped), 4);
        let line = render(&Chart::Line {
            title: "t".into(),
            unit: "users".into(),
            x: s(&["w1", "w2", "w3"]),
            series: vec![("numpy".into(), vec![1.0, 2.0, 3.0])],
        });
        // One polyline and a dot per point.
        assert_eq!(marks(&line), 4);
        let heat = render(&Chart::HeatMap {
            title: "t".into(),
            labels: s(&["a", "b"]),
            cells: vec![vec![Some(1.0), Some(-0.5)], vec![Some(-0.5), None]],
        });
        assert_eq!(marks(&heat), 3);
        let hist = render(&Chart::Histogram {
            title: "t".into(),
            unit: "jobs".into(),
            x_label: "nodes".into(),
            bins: vec![("1".into(), 5.0), ("2".into(), 0.0), ("3-4".into(), 2.0)],
        });
        assert_eq!(marks(&hist), 3);
        for svg in [&bar, &grouped, &line, &heat, &hist] {
            assert!(svg.starts_with("<svg class=\"chart\""), "{svg}");
            assert!(svg.ends_with("</svg>"));
            assert!(!svg.contains("http"), "no URL of any kind: {svg}");
        }
    }

    #[test]
    fn no_data_draws_no_marks() {
        let bar = render(&Chart::Bar {
            title: "t".into(),
            unit: "users".into(),
            bars: vec![],
            kind: Kind::Count,
        });
        assert_eq!(marks(&bar), 0);
        assert!(bar.contains("no data"));
    }
}
