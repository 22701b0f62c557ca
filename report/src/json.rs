//! The JSON form (`--format json`), stable and documented in `docs/report.md`.

use crate::model::{Fact, Report, Table, Value, FORMAT_VERSION};
use serde_json::{json, Map};

/// The report as one JSON document.
pub fn render(report: &Report) -> serde_json::Value {
    let filters: Map<String, serde_json::Value> = report
        .filters
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let sections: Vec<_> = report
        .sections
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "title": s.title,
                "about": s.about,
                "facts": facts(&s.facts),
                "tables": s.tables.iter().map(table).collect::<Vec<_>>(),
                "notes": s.notes,
            })
        })
        .collect();
    json!({
        "format": "pyusage-report",
        "version": FORMAT_VERSION,
        "title": report.title,
        "generated": report.generated,
        "filters": filters,
        "facts": facts(&report.facts),
        "empty": report.empty,
        "sections": sections,
    })
}

fn facts(facts: &[Fact]) -> serde_json::Value {
    facts
        .iter()
        .map(|f| json!({"id": f.id, "label": f.label, "value": value(&f.value), "kind": f.kind}))
        .collect()
}

/// A table: columns with their kinds, rows as arrays.
pub fn table(t: &Table) -> serde_json::Value {
    json!({
        "id": t.id,
        "title": t.title,
        "columns": t.columns,
        "rows": t.rows.iter().map(|r| r.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

fn value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Text(s) => json!(s),
        // Whole numbers are written as integers, so consumers that type
        // columns (pandas, jq) see counts as counts.
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => json!(*n as i64),
        Value::Num(n) if n.is_finite() => json!(n),
        Value::Num(_) => serde_json::Value::Null,
    }
}
