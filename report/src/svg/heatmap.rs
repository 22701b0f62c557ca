//! A correlation matrix as coloured cells: blue for -1, white for 0, red for
//! +1, the value written in cells large enough to hold it.

use super::{diverging, empty, text_width, Canvas, WIDTH};
use crate::format;
use std::fmt::Write;

/// Most rows and columns drawn.
const MAX_LABELS: usize = 15;

pub(super) fn render(title: &str, labels: &[String], cells: &[Vec<Option<f64>>]) -> String {
    let n = labels.len().min(MAX_LABELS).min(cells.len());
    if n == 0 {
        return empty("heat-map", title);
    }
    let labels: Vec<String> = labels[..n].iter().map(|l| format::clip(l, 22)).collect();
    let label_w = labels.iter().map(|l| text_width(l)).fold(30.0, f64::max) + 10.0;
    let cell = ((WIDTH - label_w - 120.0) / n as f64).clamp(18.0, 40.0);
    let left = label_w;
    // Column labels are rotated 45 degrees above the matrix.
    let top = label_w * 0.72 + 10.0;
    let height = top + cell * n as f64 + 50.0;

    let mut c = Canvas::new("heat-map", title, height);
    for (j, l) in labels.iter().enumerate() {
        let x = left + cell * (j as f64 + 0.5);
        c.text_rotated(x, top - 6.0, -45.0, "start", l);
    }
    for (i, l) in labels.iter().enumerate() {
        let y = top + cell * i as f64;
        c.text(left - 6.0, y + cell / 2.0 + 4.0, "end", "#222", l);
        for j in 0..n {
            let x = left + cell * j as f64;
            match cells[i].get(j).copied().flatten() {
                Some(v) => {
                    let tip = format!("{} / {}: {}", labels[i], labels[j], format::significant(v));
                    c.mark_rect(x, y, cell - 1.0, cell - 1.0, &diverging(v), &tip);
                    if cell >= 30.0 {
                        let ink = if v.abs() > 0.6 { "#fff" } else { "#222" };
                        let mut t = String::new();
                        let _ = write!(
                            t,
                            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{ink}\" \
                             font-size=\"10\">{:.2}</text>",
                            x + cell / 2.0,
                            y + cell / 2.0 + 3.5,
                            v
                        );
                        c.raw(&t);
                    }
                }
                None => c.rect(x, y, cell - 1.0, cell - 1.0, "#eeeeee"),
            }
        }
    }
    // Colour key: -1 .. 0 .. +1.
    let key_y = top + cell * n as f64 + 14.0;
    let key_w = 200.0;
    for k in 0..20 {
        let v = -1.0 + 2.0 * (k as f64 + 0.5) / 20.0;
        c.rect(
            left + key_w * k as f64 / 20.0,
            key_y,
            key_w / 20.0 + 0.5,
            10.0,
            &diverging(v),
        );
    }
    c.text(left, key_y + 24.0, "middle", "#555", "-1");
    c.text(left + key_w / 2.0, key_y + 24.0, "middle", "#555", "0");
    c.text(left + key_w, key_y + 24.0, "middle", "#555", "+1");
    c.finish()
}
