//! `pyusage map`: build, query, summarise and compare package maps.
//!
//! The map itself (format, reader, builder) lives in `pyusage-resolver`;
//! this module is the command line around it.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pyusage_resolver::diff::{self, Change};
use pyusage_resolver::scan::{self, BuildOptions, Progress, RootSpec};
use pyusage_resolver::{Lookup, PackageMap, Target};

/// `pyusage map ...`
#[derive(clap::Args, Debug)]
pub struct MapArgs {
    /// What to do with a package map.
    #[command(subcommand)]
    pub command: MapCommand,
}

/// The `map` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum MapCommand {
    /// Scan installations and write a package map (atomically).
    Build(BuildArgs),
    /// Resolve paths through a map.
    Query(QueryArgs),
    /// Summarise a map.
    Stats(StatsArgs),
    /// Distributions installed, removed, upgraded between two maps.
    Diff(DiffArgs),
}

/// `pyusage map build`
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Where to write the map (a temp file beside it is renamed over it).
    #[arg(long, short)]
    pub output: PathBuf,
    /// A site directory, environment prefix or conda env, with an optional
    /// label recorded as the environment: DIR[=LABEL]. Repeatable.
    #[arg(long = "root", value_name = "DIR[=LABEL]")]
    pub roots: Vec<String>,
    /// An interpreter to ask for its site directories and standard library:
    /// EXE[=LABEL]. Repeatable.
    #[arg(long = "python", value_name = "EXE[=LABEL]")]
    pub pythons: Vec<String>,
    /// TOML config whose `[map_build]` table may hold `roots = ["DIR=LABEL", ...]`
    /// and `pythons = [...]` (default: $PYUSAGE_CONFIG, when the system file
    /// allows user settings).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// dpkg's info directory (for Debian's dist-packages).
    #[arg(long, default_value = "/var/lib/dpkg/info", hide = true)]
    pub dpkg_info: PathBuf,
    /// Print only warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Make the new map immutable (`chattr +i`; root, on ext4, XFS, Btrfs or
    /// tmpfs). Then nobody can change it in place, so the tracer maps it
    /// instead of copying it into every Python process. A later build
    /// replaces it all the same.
    #[arg(long)]
    pub immutable: bool,
}

/// Which map to read: `--map`, else the configured one (as `sweep` does).
#[derive(clap::Args, Debug)]
pub struct MapSource {
    /// The map to read (default: `map` of the configuration in force, or $PYUSAGE_MAP).
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Configuration file naming the map (default: $PYUSAGE_CONFIG, else the system file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl MapSource {
    /// The map file in force.
    pub fn path(&self) -> Result<PathBuf> {
        let settings = crate::config::Settings {
            map: self.map.clone(),
            config: self.config.clone(),
            ..Default::default()
        };
        Ok(settings.load()?.map)
    }
}

/// `pyusage map query`
#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub source: MapSource,
    /// Paths to resolve.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// `pyusage map stats`
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub source: MapSource,
}

/// `pyusage map diff`
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The older map.
    pub old: PathBuf,
    /// The newer map.
    pub new: PathBuf,
}

/// Runs a `map` subcommand.
pub fn run(args: MapArgs) -> Result<ExitCode> {
    match args.command {
        MapCommand::Build(a) => run_build(a),
        MapCommand::Query(a) => run_query(a),
        MapCommand::Stats(a) => run_stats(a),
        MapCommand::Diff(a) => run_diff(a),
    }
}

/// The config file as far as map building goes: its `[map_build]` table.
/// (`map = "FILE"` at the top level is where the tracer finds the map.)
#[derive(serde::Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    map_build: MapConfig,
}

#[derive(serde::Deserialize, Default)]
struct MapConfig {
    #[serde(default)]
    roots: Vec<String>,
    #[serde(default)]
    pythons: Vec<String>,
}

fn read_config(path: &Path) -> Result<MapConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let cfg: ConfigFile =
        toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
    Ok(cfg.map_build)
}

struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn set_total(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
        }
    }
    fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
}

fn run_build(a: BuildArgs) -> Result<ExitCode> {
    let mut roots = a.roots.clone();
    let mut pythons = a.pythons.clone();
    // $PYUSAGE_CONFIG only as the tracer takes it (allow_user_config).
    let config = a
        .config
        .clone()
        .or_else(|| crate::config::Settings::default().allowed_env("PYUSAGE_CONFIG"));
    if let Some(cfg) = &config {
        let c = read_config(cfg)?;
        roots.extend(c.roots);
        pythons.extend(c.pythons);
    }
    if roots.is_empty() && pythons.is_empty() {
        bail!("nothing to scan: give --root DIR, --python EXE, or roots in the [map_build] table of the config");
    }
    let opts = BuildOptions {
        roots: roots.iter().map(|s| RootSpec::parse(s)).collect(),
        pythons: pythons.iter().map(|s| RootSpec::parse(s)).collect(),
        dpkg_info_dir: a.dpkg_info.clone(),
        built_at: None,
    };
    let bar = if std::io::stderr().is_terminal() && !a.quiet {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading metadata {bar:40} {pos}/{len} ({per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Bar(Some(b))
    } else {
        Bar(None)
    };
    let start = Instant::now();
    let report = scan::build(&opts, &bar).map_err(anyhow::Error::msg)?;
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    let elapsed = start.elapsed();
    let mut err = std::io::stderr().lock();
    for w in &report.warnings {
        writeln!(err, "warning: {w}")?;
    }
    // An immutable map cannot be renamed over: lift the attribute first.
    if attributes::is_immutable(&a.output) {
        attributes::set_immutable(&a.output, false).with_context(|| {
            format!(
                "cannot lift the immutable attribute of {}",
                a.output.display()
            )
        })?;
    }
    scan::write_atomically(&a.output, &report.map)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    if a.immutable {
        attributes::set_immutable(&a.output, true).with_context(|| {
            format!(
                "cannot make {} immutable (root, and a file system that supports it)",
                a.output.display()
            )
        })?;
    }
    if !a.quiet {
        let mut out = std::io::stdout().lock();
        writeln!(out, "roots:")?;
        for r in &report.roots {
            writeln!(out, "  {} ({}), environment {}", r.path, r.kind, r.env)?;
        }
        writeln!(out, "site directories: {}", report.sites.len())?;
        for s in &report.sites {
            writeln!(out, "  {s}")?;
        }
        writeln!(out, "standard library: {}", report.stdlib.join(", "))?;
        writeln!(out, "distributions: {}", report.dists)?;
        writeln!(out, "files: {}", report.files)?;
        writeln!(out, "keys: {}", report.keys)?;
        writeln!(out, "conflicts: {}", report.conflict_count)?;
        for c in &report.conflicts {
            writeln!(
                out,
                "  {}: kept {}, also claimed by {}",
                c.path, c.kept, c.other
            )?;
        }
        if report.conflict_count > report.conflicts.len() {
            writeln!(
                out,
                "  ... and {} more",
                report.conflict_count - report.conflicts.len()
            )?;
        }
        writeln!(out, "warnings: {}", report.warnings.len())?;
        writeln!(
            out,
            "wrote {} ({} bytes) in {:.3} s",
            a.output.display(),
            report.map.len(),
            elapsed.as_secs_f64()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a package map file cannot be used by `map query`, `stats` or `diff`.
#[derive(Debug, thiserror::Error)]
pub enum MapFileError {
    /// It cannot be read (missing, no permission, a directory).
    #[error("{}: cannot read", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Larger than the builder ever writes: not read into memory.
    #[error("{}: {len} bytes, larger than any package map", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// Not a package map, another format version, or damaged.
    #[error("{}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader found.
        #[source]
        source: pyusage_resolver::MapError,
    },
}

/// A package map's bytes, checked (header and checksum) before use.
fn load(path: &Path) -> Result<Vec<u8>, MapFileError> {
    let read = |source| MapFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.len() > pyusage_resolver::MAX_MAP_BYTES {
        return Err(MapFileError::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    PackageMap::parse(&bytes)
        .and_then(|map| map.verify_checksum())
        .map_err(|source| MapFileError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_path_buf(), |c| c.join(p))
    }
}

fn run_query(a: QueryArgs) -> Result<ExitCode> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = load(&a.source.path()?)?;
    let map = PackageMap::parse(&bytes)?;
    let mut out = std::io::stdout().lock();
    for p in &a.paths {
        let abs = absolute(p);
        let key = abs.as_os_str().as_bytes();
        match map.lookup(key) {
            Lookup::Stdlib => writeln!(out, "{}\tstdlib", abs.display())?,
            Lookup::Unmapped => writeln!(out, "{}\tunmapped", abs.display())?,
            Lookup::Dist(d) => writeln!(
                out,
                "{}\t{} {}\t{}\t{}",
                abs.display(),
                text(d.name),
                text(d.version),
                text(d.env),
                text(d.installer)
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_stats(a: StatsArgs) -> Result<ExitCode> {
    let map_path = a.source.path()?;
    let bytes = load(&map_path)?;
    let map = PackageMap::parse(&bytes)?;
    let (mut dirs, mut files, mut stdlib, mut barriers) = (0u64, 0u64, 0u64, 0u64);
    for e in map.entries() {
        match e.target {
            Target::Stdlib => stdlib += 1,
            Target::None => barriers += 1,
            Target::Dist(_) if e.key.ends_with(b"/") => dirs += 1,
            Target::Dist(_) => files += 1,
        }
    }
    let mut envs: BTreeMap<String, u64> = BTreeMap::new();
    let mut installers: BTreeMap<String, u64> = BTreeMap::new();
    for id in 0..map.dist_count() {
        if let Some(d) = map.dist(id) {
            *envs.entry(text(d.env).into_owned()).or_default() += 1;
            let inst = text(d.installer);
            let kind = inst.split(':').next().unwrap_or("").to_string();
            *installers.entry(kind).or_default() += 1;
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "map: {} ({} bytes, format version {})",
        map_path.display(),
        bytes.len(),
        pyusage_resolver::format::FORMAT_VERSION
    )?;
    writeln!(out, "built at: {} (Unix time)", map.built_at())?;
    writeln!(out, "distributions: {}", map.dist_count())?;
    writeln!(
        out,
        "keys: {} ({dirs} directories, {files} files, {stdlib} stdlib, {barriers} barriers)",
        map.entry_count()
    )?;
    writeln!(out, "roots: {}", map.root_count())?;
    for i in 0..map.root_count() {
        if let Some(r) = map.root(i) {
            writeln!(out, "  {} ({})", text(r.path), text(r.label))?;
        }
    }
    writeln!(out, "environments:")?;
    for (env, n) in &envs {
        writeln!(out, "  {env}: {n}")?;
    }
    writeln!(out, "installers:")?;
    for (inst, n) in &installers {
        writeln!(out, "  {inst}: {n}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_diff(a: DiffArgs) -> Result<ExitCode> {
    let old_bytes = load(&a.old)?;
    let new_bytes = load(&a.new)?;
    let old = PackageMap::parse(&old_bytes)?;
    let new = PackageMap::parse(&new_bytes)?;
    let changes = diff::diff(&old, &new);
    let (mut ins, mut rem, mut up, mut down) = (0, 0, 0, 0);
    let mut out = std::io::stdout().lock();
    for c in &changes {
        match c {
            Change::Installed { env, name, version } => {
                ins += 1;
                writeln!(out, "installed  {name} {version}  [{env}]")?;
            }
            Change::Removed { env, name, version } => {
                rem += 1;
                writeln!(out, "removed    {name} {version}  [{env}]")?;
            }
            Change::Changed {
                env,
                name,
                old,
                new,
                upgrade,
            } => {
                let word = if *upgrade {
                    up += 1;
                    "upgraded  "
                } else {
                    down += 1;
                    "downgraded"
                };
                writeln!(out, "{word} {name} {old} -> {new}  [{env}]")?;
            }
        }
    }
    writeln!(
        out,
        "{ins} installed, {rem} removed, {up} upgraded, {down} downgraded"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The immutable attribute (`chattr +i`) of a map file.
pub mod attributes {
    use std::os::unix::io::AsRawFd;
    use std::path::Path;

    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_IMMUTABLE_FL: libc::c_int = 0x10;

    fn flags(file: &std::fs::File) -> std::io::Result<libc::c_int> {
        let mut flags: libc::c_int = 0;
        // SAFETY: FS_IOC_GETFLAGS writes one int through the pointer.
        if unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(flags)
    }

    /// True if `path` is a file with the immutable attribute.
    pub fn is_immutable(path: &Path) -> bool {
        std::fs::File::open(path)
            .and_then(|f| flags(&f))
            .is_ok_and(|f| f & FS_IMMUTABLE_FL != 0)
    }

    /// Sets or clears the immutable attribute of `path`.
    pub fn set_immutable(path: &Path, on: bool) -> std::io::Result<()> {
        let file = std::fs::File::open(path)?;
        let mut f = flags(&file)?;
        f = if on {
            f | FS_IMMUTABLE_FL
        } else {
            f & !FS_IMMUTABLE_FL
        };
        // SAFETY: FS_IOC_SETFLAGS reads one int through the pointer.
        if unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_SETFLAGS, &f) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Chain;

    #[test]
    fn a_file_that_is_not_a_map_names_the_file_and_the_reader_s_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("map.bin");
        std::fs::write(&file, vec![b'#'; 4096]).unwrap();
        let e = load(&file).unwrap_err();
        assert!(
            matches!(
                e,
                MapFileError::Invalid {
                    source: pyusage_resolver::MapError::BadMagic,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            Chain(&e).to_string(),
            format!("{}: not a package map: bad magic", file.display())
        );

        let missing = dir.path().join("absent.bin");
        let e = load(&missing).unwrap_err();
        assert!(matches!(e, MapFileError::Read { .. }), "{e:?}");
        let said = Chain(&e).to_string();
        assert!(
            said.starts_with(&format!("{}: cannot read: ", missing.display()))
                && said.contains("No such file"),
            "{said}"
        );
    }
}
