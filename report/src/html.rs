//! The HTML form (`--html FILE`): one self-contained file.
//!
//! Charts are inline SVG (see [`crate::svg`]); styles are inline; there is no
//! script. A Content-Security-Policy of `default-src 'none'` (inline styles
//! and `data:` images allowed) makes the browser itself refuse any fetch,
//! should a future change ever add one, and the page names no `http(s)` URL.

use crate::format;
use crate::model::{Fact, Kind, Report, Section, Table};
use crate::svg::{self, esc};
use std::fmt::Write;

/// The policy in the page's `<meta http-equiv>`: nothing may load.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Tables longer than this are folded (the chart shows their head).
const FOLD_ROWS: usize = 15;

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:0;background:#f6f7f9}
header{background:#263445;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px;font-size:22px}
header .filters{opacity:.85}
main{max-width:1040px;margin:0 auto;padding:8px 24px 48px}
nav{margin:16px 0;columns:3;font-size:13px}
nav a{color:#2a5d9f;text-decoration:none}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:16px 24px;margin:18px 0}
h2{margin:0 0 4px;font-size:19px}
p.about{margin:0 0 10px;color:#555}
.facts{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0 14px}
.fact{background:#eef2f7;border-radius:5px;padding:6px 12px;min-width:110px}
.fact b{display:block;font-size:20px}
.fact span{font-size:12px;color:#555}
figure{margin:12px 0 18px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{padding:3px 10px;border-bottom:1px solid #e6e8eb;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
details summary{cursor:pointer;color:#2a5d9f;margin:6px 0}
.note{color:#7a5b00;background:#fff8e1;padding:4px 10px;border-radius:4px}
.empty{font-size:18px;padding:32px}
";

/// Render the report as one HTML document.
pub fn render(report: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&report.title)
    );
    let filters: Vec<String> = report
        .filters
        .iter()
        .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
        .collect();
    let _ = write!(
        o,
        "<header><h1>{}</h1><div class=\"filters\">{} · generated {}</div></header>\n<main>\n",
        esc(&report.title),
        filters.join(" · "),
        esc(&report.generated)
    );
    facts(&mut o, &report.facts);
    if let Some(why) = &report.empty {
        let _ = write!(o, "<p class=\"empty\">{}</p>", esc(why));
    } else {
        o.push_str("<nav>");
        for s in &report.sections {
            let _ = write!(
                o,
                "<div><a href=\"#{}\">{}</a></div>",
                esc(&s.id),
                esc(&s.title)
            );
        }
        o.push_str("</nav>\n");
        for s in &report.sections {
            section(&mut o, s);
        }
    }
    o.push_str("</main></body></html>\n");
    o
}

fn facts(o: &mut String, facts: &[Fact]) {
    if facts.is_empty() {
        return;
    }
    o.push_str("<div class=\"facts\">");
    for f in facts {
        let _ = write!(
            o,
            "<div class=\"fact\" data-fact=\"{}\"><b>{}</b><span>{}</span></div>",
            esc(&f.id),
            esc(&format::value(&f.value, f.kind)),
            esc(&f.label)
        );
    }
    o.push_str("</div>\n");
}

fn section(o: &mut String, s: &Section) {
    let _ = writeln!(
        o,
        "<section id=\"{}\" data-section=\"{}\"><h2>{}</h2><p class=\"about\">{}</p>",
        esc(&s.id),
        esc(&s.id),
        esc(&s.title),
        esc(&s.about)
    );
    facts(o, &s.facts);
    for c in &s.charts {
        let _ = writeln!(
            o,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            esc(c.title()),
            svg::render(c)
        );
    }
    for n in &s.notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
    }
    for t in &s.tables {
        table(o, t);
    }
    o.push_str("</section>\n");
}

fn table(o: &mut String, t: &Table) {
    let fold = t.rows.len() > FOLD_ROWS;
    if fold {
        let _ = write!(
            o,
            "<details><summary>{} ({} rows)</summary>",
            esc(&t.title),
            t.rows.len()
        );
    }
    let _ = write!(
        o,
        "<table data-table=\"{}\"><caption>{}</caption><thead><tr>",
        esc(&t.id),
        esc(&t.title)
    );
    for c in &t.columns {
        let class = if c.kind == Kind::Text {
            ""
        } else {
            " class=\"n\""
        };
        let _ = write!(o, "<th{class}>{}</th>", esc(&c.name.replace('_', " ")));
    }
    o.push_str("</tr></thead><tbody>");
    if t.rows.is_empty() {
        let _ = write!(
            o,
            "<tr><td colspan=\"{}\">(none)</td></tr>",
            t.columns.len()
        );
    }
    for r in &t.rows {
        o.push_str("<tr>");
        for (c, v) in t.columns.iter().zip(r) {
            let class = if c.kind == Kind::Text {
                ""
            } else {
                " class=\"n\""
            };
            let _ = write!(o, "<td{class}>{}</td>", esc(&format::value(v, c.kind)));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    if fold {
        o.push_str("</details>");
    }
    o.push('\n');
}
