//! The report as data: sections of facts, tables and charts.
//!
//! Every output form (terminal text, CSV, JSON, HTML) renders the same
//! [`Report`], so the numbers cannot disagree between them. The queries fill
//! it; the renderers never compute anything beyond layout.

use serde::Serialize;

/// Version of the JSON and CSV forms (`docs/report.md`); bumped on any
/// incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// A whole report: what was asked and the sections that answer it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Heading of the page and the terminal output.
    pub title: String,
    /// When the report was made (RFC 3339, UTC).
    pub generated: String,
    /// The filters in force, as `(name, value)` pairs, in display order.
    pub filters: Vec<(String, String)>,
    /// Headline numbers over everything the filters let through.
    pub facts: Vec<Fact>,
    /// The answers, in the order of `docs/report.md`.
    pub sections: Vec<Section>,
    /// Set when the store or the period holds no records: the reason, said
    /// once instead of eleven empty sections.
    pub empty: Option<String>,
}

/// One question answered: a few headline facts, tables and charts.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    /// Stable identifier (`top-packages`, ...), used by `--section` and as the
    /// key in JSON and CSV.
    pub id: String,
    /// Heading.
    pub title: String,
    /// One sentence on what the section answers and how it counts.
    pub about: String,
    /// Headline numbers.
    pub facts: Vec<Fact>,
    /// The tables, each complete up to the row limit.
    pub tables: Vec<Table>,
    /// Charts drawn from the tables (HTML only).
    #[serde(skip)]
    pub charts: Vec<Chart>,
    /// Remarks for the reader (what is missing and why).
    pub notes: Vec<String>,
}

/// A labelled headline number.
#[derive(Clone, Debug, Serialize)]
pub struct Fact {
    /// Stable key (`single_node_share`).
    pub id: String,
    /// Human label.
    pub label: String,
    /// The value and how to show it.
    pub value: Value,
    /// How [`Fact::value`] is formatted.
    pub kind: Kind,
}

/// A table with typed columns.
#[derive(Clone, Debug, Serialize)]
pub struct Table {
    /// Stable identifier within its section (`by-users`).
    pub id: String,
    /// Caption.
    pub title: String,
    /// Columns, in order.
    pub columns: Vec<Column>,
    /// Rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// A table column.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// Stable name (`users`, `node_hours`); also the CSV header.
    pub name: String,
    /// How values are formatted.
    pub kind: Kind,
}

/// How a value is shown. The JSON and CSV forms carry the raw number; only
/// text and HTML format it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Free text.
    Text,
    /// An estimated count (a sum of `1/sample` weights): whole numbers show
    /// as integers.
    Count,
    /// A fraction in 0..=1, shown as a percentage.
    Share,
    /// A plain number (a median, a correlation), shown with few digits.
    Number,
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (unknown, not applicable).
    Null,
    /// Text.
    Text(String),
    /// A number.
    Num(f64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Num(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Num(v as f64)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// The number, if this is one.
    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Num(v) => Some(*v),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A chart, as data; `svg` draws it.
#[derive(Clone, Debug)]
pub enum Chart {
    /// Horizontal bars, one per label, largest first.
    Bar {
        /// Caption.
        title: String,
        /// What the values count (`users`).
        unit: String,
        /// `(label, value)`.
        bars: Vec<(String, f64)>,
        /// Value format.
        kind: Kind,
    },
    /// Horizontal bars in groups: one group per label, one bar per series.
    GroupedBar {
        /// Caption.
        title: String,
        /// What the values count.
        unit: String,
        /// Series names (legend).
        series: Vec<String>,
        /// `(group label, one value per series)`.
        groups: Vec<(String, Vec<f64>)>,
        /// Value format.
        kind: Kind,
    },
    /// Lines over an ordered axis (weeks).
    Line {
        /// Caption.
        title: String,
        /// What the values count.
        unit: String,
        /// Labels of the x positions.
        x: Vec<String>,
        /// `(series name, one value per x position)`.
        series: Vec<(String, Vec<f64>)>,
    },
    /// A square matrix of values in `-1..=1` (correlations).
    HeatMap {
        /// Caption.
        title: String,
        /// Row and column labels.
        labels: Vec<String>,
        /// `cells[row][col]`; `None` where undefined.
        cells: Vec<Vec<Option<f64>>>,
    },
    /// Vertical bars over ordered bins.
    Histogram {
        /// Caption.
        title: String,
        /// What the bars count.
        unit: String,
        /// What the bins are (`nodes`).
        x_label: String,
        /// `(bin label, value)`.
        bins: Vec<(String, f64)>,
    },
}

impl Chart {
    /// The chart's caption.
    pub fn title(&self) -> &str {
        match self {
            Chart::Bar { title, .. }
            | Chart::GroupedBar { title, .. }
            | Chart::Line { title, .. }
            | Chart::HeatMap { title, .. }
            | Chart::Histogram { title, .. } => title,
        }
    }

    /// Short name of the chart type (`bar`, `grouped-bar`, `line`, `heat-map`,
    /// `histogram`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Chart::Bar { .. } => "bar",
            Chart::GroupedBar { .. } => "grouped-bar",
            Chart::Line { .. } => "line",
            Chart::HeatMap { .. } => "heat-map",
            Chart::Histogram { .. } => "histogram",
        }
    }
}

impl Table {
    /// A table with the given `(name, kind)` columns and no rows.
    pub fn new(id: &str, title: &str, columns: &[(&str, Kind)]) -> Self {
        Table {
            id: id.to_string(),
            title: title.to_string(),
            columns: columns
                .iter()
                .map(|(n, k)| Column {
                    name: n.to_string(),
                    kind: *k,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Index of the column called `name`.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

impl Section {
    /// An empty section.
    pub fn new(id: &str, title: &str, about: &str) -> Self {
        Section {
            id: id.to_string(),
            title: title.to_string(),
            about: about.to_string(),
            facts: Vec::new(),
            tables: Vec::new(),
            charts: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Add a headline fact.
    pub fn fact(&mut self, id: &str, label: &str, value: impl Into<Value>, kind: Kind) {
        self.facts.push(Fact {
            id: id.to_string(),
            label: label.to_string(),
            value: value.into(),
            kind,
        });
    }
}
