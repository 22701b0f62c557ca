//! The terminal form: every line fits [`WIDTH`] columns.
//!
//! Tables are laid out to their content; when that is too wide, the widest
//! text column gives way first (cells are clipped with `…`), so numbers are
//! never cut.

use crate::format;
use crate::model::{Fact, Kind, Report, Section, Table, Value};
use std::fmt::Write;

/// Columns of the terminal the text form must fit.
pub const WIDTH: usize = 100;

/// Gap between table columns.
const GAP: usize = 2;

/// Narrowest a text column is clipped to.
const MIN_TEXT: usize = 8;

/// Render the whole report as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    line(&mut out, &report.title);
    let filters: Vec<String> = report
        .filters
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    wrap_into(&mut out, &filters.join(" · "), "");
    if !report.facts.is_empty() {
        wrap_into(&mut out, &facts_line(&report.facts), "");
    }
    if let Some(why) = &report.empty {
        out.push('\n');
        wrap_into(&mut out, why, "");
        return out;
    }
    for s in &report.sections {
        out.push('\n');
        section(&mut out, s);
    }
    out
}

fn section(out: &mut String, s: &Section) {
    line(out, &s.title);
    line(out, &"=".repeat(s.title.chars().count().min(WIDTH)));
    wrap_into(out, &s.about, "");
    if !s.facts.is_empty() {
        wrap_into(out, &facts_line(&s.facts), "");
    }
    for t in &s.tables {
        out.push('\n');
        table(out, t);
    }
    for n in &s.notes {
        wrap_into(out, &format!("note: {n}"), "      ");
    }
}

fn facts_line(facts: &[Fact]) -> String {
    facts
        .iter()
        .map(|f| format!("{}: {}", f.label, format::value(&f.value, f.kind)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Lay a table out to fit [`WIDTH`].
pub fn table(out: &mut String, t: &Table) {
    line(out, &format::clip(&t.title, WIDTH));
    if t.rows.is_empty() {
        line(out, "  (none)");
        return;
    }
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            t.columns
                .iter()
                .zip(r)
                .map(|(c, v)| format::value(v, c.kind))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = t.columns.iter().map(|c| c.name.chars().count()).collect();
    for r in &cells {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    fit(&mut widths, t);
    let numeric = |i: usize| t.columns[i].kind != Kind::Text;
    let render_row = |vals: &[String]| {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                s.push_str(&" ".repeat(GAP));
            }
            let v = format::clip(v, widths[i]);
            let pad = widths[i] - v.chars().count();
            if numeric(i) {
                s.push_str(&" ".repeat(pad));
                s.push_str(&v);
            } else {
                s.push_str(&v);
                if i + 1 < vals.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_string()
    };
    let header: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    line(out, &render_row(&header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule.join(&" ".repeat(GAP)));
    for r in &cells {
        line(out, &render_row(r));
    }
}

/// Shrink column widths until the row fits: widest text column first, then
/// any column, never below what a number needs when it can be helped.
fn fit(widths: &mut [usize], t: &Table) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    while total(widths) > WIDTH {
        let text_widest = (0..widths.len())
            .filter(|&i| t.columns[i].kind == Kind::Text && widths[i] > MIN_TEXT)
            .max_by_key(|&i| widths[i]);
        let any_widest = (0..widths.len())
            .filter(|&i| widths[i] > 1)
            .max_by_key(|&i| widths[i]);
        match text_widest.or(any_widest) {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
}

fn line(out: &mut String, s: &str) {
    out.push_str(s);
    out.push('\n');
}

/// Word-wrap `text` to [`WIDTH`], continuation lines indented by `indent`.
fn wrap_into(out: &mut String, text: &str, indent: &str) {
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let extra = if cur.is_empty() { 0 } else { 1 };
        if !cur.is_empty() && cur.chars().count() + extra + word.chars().count() > WIDTH {
            let _ = writeln!(out, "{cur}");
            cur = indent.to_string();
        } else if !cur.is_empty() && !cur.ends_with(' ') {
            cur.push(' ');
        }
        cur.push_str(&format::clip(word, WIDTH - indent.len()));
    }
    if !cur.trim().is_empty() {
        let _ = writeln!(out, "{cur}");
    }
}

/// The cell as text for a value of `kind` (shared with HTML tables).
pub fn cell(v: &Value, kind: Kind) -> String {
    format::value(v, kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Table, Value};

    #[test]
    fn a_wide_table_fits_by_clipping_text_not_numbers() {
        let mut t = Table::new(
            "t",
            "Wide",
            &[
                ("package", Kind::Text),
                ("environment", Kind::Text),
                ("users", Kind::Count),
                ("share", Kind::Share),
            ],
        );
        t.rows.push(vec![
            Value::from("a-very-long-distribution-name-that-goes-on-and-on-and-on"),
            Value::from("/some/very/long/prefix/of/an/environment/that/is/long/too/really"),
            Value::Num(1234567.0),
            Value::Num(0.5),
        ]);
        let mut out = String::new();
        table(&mut out, &t);
        for l in out.lines() {
            assert!(l.chars().count() <= WIDTH, "too wide: {l:?}");
        }
        assert!(out.contains("1,234,567"), "{out}");
        assert!(out.contains("50.0%"), "{out}");
        assert!(out.contains('…'), "{out}");
    }

    #[test]
    fn numbers_are_right_aligned_under_their_header() {
        let mut t = Table::new("t", "T", &[("name", Kind::Text), ("jobs", Kind::Count)]);
        t.rows.push(vec![Value::from("numpy"), Value::Num(7.0)]);
        t.rows.push(vec![Value::from("scipy"), Value::Num(1200.0)]);
        let mut out = String::new();
        table(&mut out, &t);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "name    jobs");
        assert_eq!(lines[3], "numpy      7");
        assert_eq!(lines[4], "scipy  1,200");
    }
}
