//! `pyusage report`: the answers, on the terminal, as CSV or JSON, and as
//! one HTML file with charts. The queries and renderers live in the
//! `pyusage-report` crate; this module reads the command line.

use crate::config::Settings;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use pyusage_report::query::{Db, Filters};
use pyusage_report::sections::{self, Compare, Options};
use pyusage_report::{csv, html, json, text, time};
use pyusage_store::{Store, StoreUrl};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Output form on standard output.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Text for a 100-column terminal.
    Table,
    /// CSV blocks, one per table (docs/report.md).
    Csv,
    /// One JSON document (docs/report.md).
    Json,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The store: a path, sqlite:PATH or postgresql://... (default: `store` in the configuration).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Records of processes that started on or after DATE (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Records of processes that started before DATE; a bare date includes that whole day.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only processes in jobs of this cluster.
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    /// Leave out the users listed in FILE (user names or uids, one per line, `#` comments).
    #[arg(long, value_name = "FILE")]
    exclude_users: Option<PathBuf>,
    /// Only this section (repeatable): top-packages, versions, job-size, together,
    /// interpreters, endings, gpu, fan-out, trends, never-used, compare.
    #[arg(long = "section", value_name = "NAME")]
    sections: Vec<String>,
    /// Output form on standard output.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Also write the report as one self-contained HTML file with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Rows per table (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    /// Set two clusters side by side (section `compare`).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "compare_period")]
    compare_cluster: Option<Vec<String>>,
    /// Set the period (--since/--until; default the last 28 days of records) beside the
    /// period of equal length just before it.
    #[arg(long)]
    compare_period: bool,
    #[command(flatten)]
    settings: Settings,
}

pub fn run(a: ReportArgs) -> Result<ExitCode> {
    let eff = a.settings.load()?;
    let store_text = a.db.clone().unwrap_or_else(|| eff.store.clone());
    let url = StoreUrl::parse(&store_text)?;
    let since = a.since.as_deref().map(time::parse).transpose()?;
    let until = a.until.as_deref().map(time::parse).transpose()?;
    let until_us = until.map(|u| {
        if u.date_only {
            u.us + time::DAY_US
        } else {
            u.us
        }
    });
    time::check_order(since.map(|s| s.us), until_us)?;
    sections::check_ids(&a.sections)?;
    let exclude_users = match &a.exclude_users {
        Some(f) => read_user_list(f)?,
        None => Vec::new(),
    };
    let compare = match (&a.compare_cluster, a.compare_period) {
        (Some(v), _) => Some(Compare::Clusters(v[0].clone(), v[1].clone())),
        (None, true) => Some(Compare::Periods),
        (None, false) => None,
    };
    if compare.is_none() && a.sections.iter().any(|s| s == "compare") {
        bail!("section `compare` needs --compare-cluster A B or --compare-period");
    }
    let map = Some(eff.map.clone()).filter(|m| m.exists());
    let opts = Options {
        filters: Filters {
            since_us: since.map(|s| s.us),
            until_us,
            cluster: a.cluster.clone(),
            exclude_users,
        },
        limit: a.limit,
        sections: a.sections.clone(),
        map,
        compare,
        store_label: url.to_string(),
    };
    let store = Store::open_existing(&url)?;
    let mut db = Db::from(store);
    let report = sections::build(&mut db, &opts)?;
    let out = match a.format {
        Format::Table => text::render(&report),
        Format::Csv => csv::render(&report),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&json::render(&report))?;
            s.push('\n');
            s
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    if let Some(path) = &a.html {
        write_atomic(path, html::render(&report).as_bytes())?;
        eprintln!("pyusage: HTML report: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// User names or uids, one per line; blank lines and `#` comments skipped.
fn read_user_list(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the user list", path.display()))?;
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.split_whitespace().count() > 1 {
            bail!(
                "{}: line {}: one user name or uid per line, got `{line}`",
                path.display(),
                i + 1
            );
        }
        v.push(line.to_string());
    }
    Ok(v)
}

/// Write to a temp file beside `path`, then rename it into place, so that a
/// reader never sees half a report.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().context("no file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
