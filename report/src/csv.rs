//! The CSV form (`--format csv`): one block per table, documented in
//! `docs/report.md`.
//!
//! A block is a `# section=<id> table=<id>` line, the header row, the rows,
//! and a blank line. Numbers are raw (no separators, shares as fractions);
//! a missing value is an empty field. Quoting follows RFC 4180.

use crate::model::{Report, Table, Value};

/// The report's tables as CSV blocks.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.sections {
        for t in &s.tables {
            block(&mut out, &s.id, t);
        }
    }
    out
}

/// One table as a CSV block.
pub fn block(out: &mut String, section: &str, t: &Table) {
    out.push_str(&format!("# section={section} table={}\n", t.id));
    let header: Vec<String> = t.columns.iter().map(|c| field(&c.name)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(cell).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.push('\n');
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => field(s),
        Value::Num(n) if n.is_finite() => format!("{n}"),
        Value::Num(_) => String::new(),
    }
}

/// Quote a field when it holds a separator, a quote, a line break, or starts
/// with `#` (which would read as a block line).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with('#') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn blocks_quote_what_needs_quoting_and_keep_raw_numbers() {
        let mut t = Table::new("v", "V", &[("name", Kind::Text), ("share", Kind::Share)]);
        t.rows.push(vec![Value::from("a,\"b\""), Value::Num(0.25)]);
        t.rows.push(vec![Value::from("#x"), Value::Null]);
        t.rows.push(vec![Value::from("n"), Value::Num(1234.0)]);
        let mut out = String::new();
        block(&mut out, "s", &t);
        assert_eq!(
            out,
            "# section=s table=v\nname,share\n\"a,\"\"b\"\"\",0.25\n\"#x\",\nn,1234\n\n"
        );
    }
}
