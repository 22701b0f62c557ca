//! `pyusage config`, `pyusage map` and `pyusage run`, run as real processes
//! on files the tests lay out.

use pyusage_tests::cli::*;
use std::fs;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------- config ----

fn config_check(file: &Path) -> Output {
    run(pyusage(["config", "check", "--config"]).arg(file))
}

fn config_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn config_check_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = config_file(
        dir.path(),
        "good.toml",
        "# site config\nenabled = false\nspool = \"/s/spool\"  # trailing comment\n\
         runtime_dir = '/dev/shm/x'\nmap = \"/m/map.bin\"\nsample = 0.25\nrecord_bytes = 131072\n\
         all_ranks = true\nallow_opt_out = false\nallow_user_config = false\n\n\
         [map_build]\nroots = [\"/opt/conda/envs/a=a\"]\npythons = [\"/usr/bin/python3\"]\n",
    );
    let out = config_check(&good);
    out.assert_ok();
    assert!(out.stdout.contains(&good.display().to_string()), "{out}");
    assert!(out.stderr.is_empty(), "{out}");

    // The annotated example that ships with the package is good too, once
    // `make install` has filled in its directories.
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config.toml");
    let filled = fs::read_to_string(template)
        .unwrap()
        .replace("@LOCALSTATEDIR@", "/var")
        .replace("@SYSCONFDIR@", "/etc");
    assert!(!filled.contains("@LOCAL") && !filled.contains("@SYSCONF"));
    config_check(&config_file(dir.path(), "shipped.toml", &filled)).assert_ok();

    // Boundaries are inside the range.
    let edges = [
        "sample = 0\n",
        "sample = 1.0\n",
        "sample = 0.000001\n",
        // Any TOML number: an admin's `1e-3` must not switch tracing off.
        "sample = 1e-3\n",
        "sample = 5E-1\n",
        "sample = 1_0e-1\n",
        "sample = 0x1\n",
        "map = \"\"\n",
        "record_bytes = 4096\n",
        "record_bytes = 16777216\n",
        "",
    ];
    assert_check_exits(dir.path(), "edge", &edges, 0);
}

/// Writes each text to its own file and asserts `config check`'s exit code.
fn assert_check_exits(dir: &Path, stem: &str, texts: &[&str], code: i32) {
    for (i, text) in texts.iter().enumerate() {
        let f = config_file(dir, &format!("{stem}{i}.toml"), text);
        let out = config_check(&f);
        assert_eq!(out.code, Some(code), "{text:?} must exit {code}:\n{out}");
    }
}

#[test]
fn config_check_rejects_bad_files_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // (what, file text, a word the message must contain)
        ("bad TOML", "enabled = tru e\n", "TOML"),
        ("unterminated string", "spool = \"/var/spool\n", "TOML"),
        ("duplicate key", "sample = 0.5\nsample = 0.6\n", "TOML"),
        ("unknown key", "enabled = true\nsampel = 0.5\n", "sampel"),
        ("bool as string", "enabled = \"yes\"\n", "line 1"),
        ("sample as string", "sample = \"0.5\"\n", "line 1"),
        (
            "record_bytes as string",
            "record_bytes = \"65536\"\n",
            "line 1",
        ),
        ("path as number", "\nspool = 5\n", "line 2"),
        ("bool as number", "all_ranks = 1\n", "line 1"),
        ("path as array", "map = [\"/m\"]\n", "line 1"),
        ("sample above 1", "sample = 1.5\n", "sample"),
        ("sample negative", "sample = -0.1\n", "sample"),
        ("sample infinite", "sample = inf\n", "sample"),
        ("relative spool", "spool = \"spool\"\n", "absolute"),
        ("relative runtime_dir", "runtime_dir = './rt'\n", "absolute"),
        ("relative map", "map = \"maps/map.bin\"\n", "absolute"),
        (
            "record_bytes too small",
            "record_bytes = 100\n",
            "record_bytes",
        ),
        (
            "record_bytes below minimum",
            "record_bytes = 4095\n",
            "record_bytes",
        ),
        (
            "record_bytes too large",
            "record_bytes = 16777217\n",
            "record_bytes",
        ),
        (
            "record_bytes negative",
            "record_bytes = -4096\n",
            "record_bytes",
        ),
        (
            "record_bytes fractional",
            "record_bytes = 65536.5\n",
            "record_bytes",
        ),
    ];
    for (i, (what, text, word)) in cases.iter().enumerate() {
        let f = config_file(dir.path(), &format!("bad{i}.toml"), text);
        let out = config_check(&f);
        assert_eq!(
            out.code,
            Some(1),
            "{what}: {text:?} must fail with 1:\n{out}"
        );
        out.assert_no_crash();
        assert!(
            out.stderr.contains(&f.display().to_string()),
            "{what}: message does not name the file:\n{out}"
        );
        assert!(
            out.stderr.contains(word),
            "{what}: message does not say `{word}`:\n{out}"
        );
    }
}

/// Each line the tracer cannot use gets its own message with the tracer's
/// parser's reason, in the one format: `pyusage: error: <file>: line N: <why>`.
#[test]
fn config_check_says_why_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = config_file(
        dir.path(),
        "c.toml",
        "enabled = true\nspool = \"spool\"\nsample = 2\n",
    );
    let out = config_check(&f);
    assert_eq!(out.code, Some(1), "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let file = f.display();
    assert_eq!(
        lines,
        [
            format!(
                "pyusage: error: {file}: line 2: `spool` must be an absolute path: \
                 a relative one would be taken from each process's working directory"
            ),
            format!("pyusage: error: {file}: line 3: `sample` must be a number from 0 to 1"),
        ],
        "{out}"
    );
    // The missing file's message names it, then the cause.
    let missing = dir.path().join("absent.toml");
    let out = config_check(&missing);
    assert!(
        out.stderr.starts_with(&format!(
            "pyusage: error: {}: cannot read: No such file",
            missing.display()
        )),
        "{out}"
    );
}

#[test]
fn config_check_of_a_missing_or_unreadable_file_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        dir.path().join("absent.toml"),
        dir.path().to_path_buf(), // a directory
    ] {
        let out = config_check(&f);
        out.assert_no_crash();
        assert_eq!(out.code, Some(2), "{out}");
        assert!(out.stderr.contains(&f.display().to_string()), "{out}");
    }
    // Not UTF-8.
    let f = dir.path().join("latin1.toml");
    fs::write(&f, b"spool = \"/var/sp\xf6ol\"\n").unwrap();
    let out = config_check(&f);
    out.assert_no_crash();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains(&f.display().to_string()), "{out}");
}

/// After a table header every key belongs to that table in TOML, and the
/// tracer skips it: `sample = 0.5` written below `[map_build]` silently does
/// nothing. `config check` must flag that, typos inside `[map_build]`
/// (`root = [...]`), unknown tables, and values of the wrong type.
#[test]
fn config_check_flags_keys_the_tools_will_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let unread = [
        "[map_build]\nroots = []\nsample = 0.5\n",
        "[map_build]\nroot = [\"/opt/env=env\"]\n",
        "[mapbuild]\nroots = [\"/opt/env=env\"]\n",
        "[map_build]\nroots = \"/opt/env\"\n",
    ];
    assert_check_exits(dir.path(), "t", &unread, 1);
}

#[test]
fn config_show_prints_the_effective_values() {
    let dir = tempfile::tempdir().unwrap();
    let f = config_file(
        dir.path(),
        "c.toml",
        "enabled = false\nspool = \"/from/file/spool\"\nruntime_dir = \"/from/file/rt\"\n\
         map = \"/from/file/map.bin\"\nsample = 0.25\nrecord_bytes = 131072\nall_ranks = true\n\
         allow_opt_out = false\n",
    );
    let out = run(pyusage(["config", "show", "--config"])
        .arg(&f)
        .args(["--spool", "/from/flag/spool"]));
    out.assert_ok();
    let want = [
        "enabled = false",
        "spool = \"/from/flag/spool\"",
        "runtime_dir = \"/from/file/rt\"",
        "map = \"/from/file/map.bin\"",
        "sample = 0.25",
        "record_bytes = 131072",
        "all_ranks = true",
        "allow_opt_out = false",
        "allow_user_config = true",
    ];
    for w in want {
        assert!(
            out.stdout.lines().any(|l| l == w),
            "`{w}` missing from config show:\n{out}"
        );
    }
    assert!(out.stdout.contains(&f.display().to_string()), "{out}");

    // The environment overrides the file too, as the tracer's does.
    let out = run(pyusage(["config", "show", "--config"])
        .arg(&f)
        .env("PYUSAGE_MAP", "/from/env/map.bin"));
    out.assert_ok();
    assert!(
        out.stdout
            .lines()
            .any(|l| l == "map = \"/from/env/map.bin\""),
        "{out}"
    );

    // A line the tracer cannot use: warned about (naming the file), default kept.
    let bad = config_file(dir.path(), "bad.toml", "sample = 2\nrecord_bytes = 8192\n");
    let out = run(pyusage(["config", "show", "--config"]).arg(&bad));
    out.assert_ok();
    assert!(out.stderr.contains(&bad.display().to_string()), "{out}");
    assert!(out.stdout.lines().any(|l| l == "sample = 1"), "{out}");
    assert!(
        out.stdout.lines().any(|l| l == "record_bytes = 8192"),
        "{out}"
    );
}

// ------------------------------------------------------------------- map ----

/// A fake installation: a venv's site-packages with two dist-info
/// distributions and a conda env with one package.
struct Tree {
    tmp: tempfile::TempDir,
    site: PathBuf,
    conda: PathBuf,
}

fn dist(site: &Path, name: &str, version: &str, files: &[&str]) {
    let di = site.join(format!("{name}-{version}.dist-info"));
    fs::create_dir_all(&di).unwrap();
    fs::write(
        di.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n\nbody\n"),
    )
    .unwrap();
    fs::write(di.join("INSTALLER"), "pip\n").unwrap();
    let mut record = String::new();
    for f in files {
        let p = site.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "# test\n").unwrap();
        record.push_str(&format!("{f},sha256=AAAA,7\n"));
    }
    for m in ["METADATA", "INSTALLER", "RECORD"] {
        record.push_str(&format!("{name}-{version}.dist-info/{m},,\n"));
    }
    fs::write(di.join("RECORD"), record).unwrap();
}

impl Tree {
    fn new() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("venv/lib/python3.11/site-packages");
        fs::create_dir_all(&site).unwrap();
        dist(
            &site,
            "alpha",
            "1.0",
            &["alpha/__init__.py", "alpha/core.py", "alpha_cli.py"],
        );
        dist(
            &site,
            "beta",
            "2.0",
            &["beta/__init__.py", "beta/_speed.so"],
        );
        let conda = tmp.path().join("conda");
        fs::create_dir_all(conda.join("conda-meta")).unwrap();
        fs::create_dir_all(conda.join("lib")).unwrap();
        fs::write(conda.join("lib/libgamma.so.3"), "").unwrap();
        fs::write(
            conda.join("conda-meta/gamma-3.1-h0.json"),
            r#"{"name":"gamma","version":"3.1","build":"h0","channel":"https://conda.example/conda-forge/linux-64","files":["lib/libgamma.so.3"]}"#,
        )
        .unwrap();
        Tree { tmp, site, conda }
    }

    fn build(&self, out: &Path) -> Output {
        run(pyusage(["map", "build", "--output"])
            .arg(out)
            .arg("--root")
            .arg(format!("{}=venv-label", self.site.display()))
            .arg("--root")
            .arg(format!("{}=conda-label", self.conda.display())))
    }
}

fn query(map: &Path, paths: &[PathBuf]) -> Output {
    run(pyusage(["map", "query", "--map"]).arg(map).args(paths))
}

#[test]
fn map_build_query_stats_diff() {
    let t = Tree::new();
    let m1 = t.tmp.path().join("m1.bin");
    let out = t.build(&m1);
    out.assert_ok();
    assert!(out.stdout.contains("distributions: 3"), "{out}");
    assert!(out.stdout.contains("warnings: 0"), "{out}");
    assert!(m1.is_file());

    // query
    let later_pyc = t.site.join("alpha/__pycache__/core.cpython-311.pyc");
    let out = query(
        &m1,
        &[
            t.site.join("alpha/core.py"),
            later_pyc.clone(), // written after the build: still alpha's
            t.site.join("alpha_cli.py"),
            t.site.join("beta/_speed.so"),
            t.conda.join("lib/libgamma.so.3"),
            t.site.join("nobody/__init__.py"),
            PathBuf::from("/nowhere/at/all.py"),
        ],
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    let want = [
        ("alpha 1.0", "venv-label"),
        ("alpha 1.0", "venv-label"),
        ("alpha 1.0", "venv-label"),
        ("beta 2.0", "venv-label"),
        ("gamma 3.1", "conda-label"),
    ];
    for (line, (dist, env)) in lines.iter().zip(want) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.get(1), Some(&dist), "{line}\n{out}");
        assert_eq!(f.get(2), Some(&env), "{line}\n{out}");
    }
    assert!(lines[0].ends_with("\tpip"), "{out}");
    assert!(lines[4].contains("conda:"), "{out}");
    assert!(lines[5].ends_with("\tunmapped"), "{out}");
    assert!(lines[6].ends_with("\tunmapped"), "{out}");

    // stats
    let out = run(pyusage(["map", "stats", "--map"]).arg(&m1));
    out.assert_ok();
    for w in [
        "distributions: 3",
        "roots: 2",
        "venv-label: 2",
        "conda-label: 1",
        "pip: 2",
        "conda: 1",
    ] {
        assert!(out.stdout.contains(w), "stats lacks `{w}`:\n{out}");
    }

    // diff: alpha removed, beta upgraded, delta installed, gamma unchanged.
    fs::remove_dir_all(t.site.join("alpha-1.0.dist-info")).unwrap();
    fs::remove_dir_all(t.site.join("beta-2.0.dist-info")).unwrap();
    dist(&t.site, "beta", "2.1", &["beta/__init__.py"]);
    dist(&t.site, "delta", "0.1", &["delta.py"]);
    let m2 = t.tmp.path().join("m2.bin");
    t.build(&m2).assert_ok();
    let out = run(pyusage(["map", "diff"]).arg(&m1).arg(&m2));
    out.assert_ok();
    let s = &out.stdout;
    assert!(s.contains("installed  delta 0.1  [venv-label]"), "{out}");
    assert!(s.contains("removed    alpha 1.0  [venv-label]"), "{out}");
    assert!(
        s.contains("upgraded   beta 2.0 -> 2.1  [venv-label]"),
        "{out}"
    );
    assert!(!s.contains("gamma"), "unchanged gamma listed:\n{out}");
    assert!(
        s.contains("1 installed, 1 removed, 1 upgraded, 0 downgraded"),
        "{out}"
    );
    let out = run(pyusage(["map", "diff"]).arg(&m2).arg(&m1));
    out.assert_ok();
    assert!(out.stdout.contains("downgraded beta 2.1 -> 2.0"), "{out}");

    // The rebuilt map answers for the new state.
    let out = query(
        &m2,
        &[t.site.join("delta.py"), t.site.join("alpha/core.py")],
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].contains("\tdelta 0.1\t"), "{out}");
    assert!(lines[1].ends_with("\tunmapped"), "{out}");
}

#[test]
fn map_build_warns_about_bad_metadata_and_goes_on() {
    let t = Tree::new();
    let broken = t.site.join("broken-9.9.dist-info");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("METADATA"), b"\xff\xfe not headers at all").unwrap();
    fs::write(broken.join("RECORD"), b"\"unterminated,quote\n,,,,\n").unwrap();
    let bad_json = t.conda.join("conda-meta/bad-1-0.json");
    fs::write(&bad_json, "{not json").unwrap();
    let m = t.tmp.path().join("m.bin");
    let out = t.build(&m);
    out.assert_ok();
    assert!(
        out.stderr.contains(&bad_json.display().to_string()),
        "no warning names {}:\n{out}",
        bad_json.display()
    );
    assert!(
        out.stderr.contains(&broken.display().to_string()),
        "no warning names {}:\n{out}",
        broken.display()
    );
    // The good distributions are still there.
    let out = query(&m, &[t.site.join("beta/__init__.py")]);
    out.assert_ok();
    assert!(out.stdout.contains("\tbeta 2.0\t"), "{out}");
}

#[test]
fn map_build_with_nothing_to_scan_or_unwritable_output_fails_clearly() {
    let t = Tree::new();
    let out = run(pyusage(["map", "build", "--output"]).arg(t.tmp.path().join("m.bin")));
    out.assert_no_crash();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("nothing to scan"), "{out}");

    let file = t.tmp.path().join("a-file");
    fs::write(&file, "").unwrap();
    let target = file.join("m.bin");
    let out = t.build(&target);
    out.assert_no_crash();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains(&target.display().to_string()), "{out}");
}

#[test]
fn corrupt_maps_are_refused_with_a_clear_error() {
    let t = Tree::new();
    let good = t.tmp.path().join("good.bin");
    t.build(&good).assert_ok();
    let bytes = fs::read(&good).unwrap();
    let dir = t.tmp.path();
    let mut cases: Vec<(&str, PathBuf)> = Vec::new();
    let mut put = |name: &'static str, b: &[u8]| {
        let p = dir.join(format!("{name}.bin"));
        fs::write(&p, b).unwrap();
        cases.push((name, p));
    };
    put("empty", b"");
    put(
        "random",
        &(0..4096u32)
            .map(|i| ((i * 2654435761u32) >> 13) as u8)
            .collect::<Vec<_>>(),
    );
    put("truncated-header", &bytes[..40]);
    put("truncated-body", &bytes[..bytes.len() / 2]);
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55; // checksum mismatch
    put("flipped-byte", &flipped);
    let mut version = bytes.clone();
    version[8] = 99;
    put("bad-version", &version);
    let mut magic = bytes.clone();
    magic[0] = b'X';
    put("bad-magic", &magic);
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 64]);
    put("trailing-bytes", &longer);
    let absent = dir.join("absent.bin");
    cases.push(("absent", absent));
    cases.push(("directory", dir.to_path_buf()));
    let huge = dir.join("huge.bin");
    fs::File::create(&huge)
        .unwrap()
        .set_len(pyusage_resolver::MAX_MAP_BYTES + 1)
        .unwrap();
    cases.push(("huge", huge));

    for (what, p) in &cases {
        let shown = p.display().to_string();
        for out in [
            query(p, &[t.site.join("alpha/core.py")]),
            run(pyusage(["map", "stats", "--map"]).arg(p)),
            run(pyusage(["map", "diff"]).arg(&good).arg(p)),
            run(pyusage(["map", "diff"]).arg(p).arg(&good)),
        ] {
            out.assert_no_crash();
            assert_eq!(out.code, Some(2), "{what}: accepted:\n{out}");
            assert!(
                out.stderr.contains(&shown),
                "{what}: error does not name the file:\n{out}"
            );
            assert!(
                out.stdout.is_empty(),
                "{what}: printed results from a bad map:\n{out}"
            );
        }
    }
}

// ------------------------------------------------------------------- run ----

/// `pyusage run` settings pinned to a scratch site.
fn run_cmd(site: &Site, lib: &Path) -> std::process::Command {
    let mut c = pyusage(["run", "--config"]);
    c.arg(&site.config)
        .arg("--spool")
        .arg(&site.spool)
        .arg("--runtime-dir")
        .arg(&site.runtime)
        .arg("--map")
        .arg(&site.map)
        .arg("--lib")
        .arg(lib);
    c
}

#[test]
fn run_execs_the_command_under_the_tracer() {
    let site = Site::new();
    fs::remove_dir(&site.spool).unwrap();
    fs::remove_dir(&site.runtime).unwrap();
    let lib = fs::canonicalize(libpyusage()).unwrap();
    let mut c = run_cmd(&site, &lib);
    c.args([
        "--",
        "sh",
        "-c",
        "echo \"$LD_PRELOAD\"; echo \"$PYUSAGE_SPOOL\"; echo $$; exit 7",
    ]);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = wait(child, &"pyusage run");
    out.assert_code(7);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some(lib.to_str().unwrap()), "{out}");
    assert_eq!(
        lines.get(1).copied(),
        Some(site.spool.to_str().unwrap()),
        "{out}"
    );
    assert_eq!(
        lines.get(2).copied(),
        Some(pid.to_string().as_str()),
        "not exec'd:\n{out}"
    );
    assert!(
        site.spool.is_dir() && site.runtime.is_dir(),
        "dirs not created"
    );
    // Made as the tracer makes it, whatever the umask: 1777, so that every
    // user's processes can use it (a 0755 one would shut them all out).
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&site.runtime).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o1777, "runtime dir made with mode {mode:o}");
    assert!(out.stderr.is_empty(), "{out}");

    // An existing LD_PRELOAD is kept, after the tracer.
    let mut c = run_cmd(&site, &lib);
    c.env("LD_PRELOAD", &lib)
        .args(["--", "sh", "-c", "echo \"$LD_PRELOAD\""]);
    let out = run(&mut c);
    out.assert_ok();
    assert_eq!(
        out.stdout.trim(),
        format!("{0} {0}", lib.display()),
        "{out}"
    );

    // A signal is the command's own.
    let mut c = run_cmd(&site, &lib);
    c.args(["--", "sh", "-c", "kill -TERM $$"]);
    let out = run(&mut c);
    assert_eq!(out.signal, Some(libc::SIGTERM), "{out}");
}

#[test]
fn run_with_a_missing_command_fails_clearly() {
    let site = Site::new();
    let lib = lib_for_failures(site.tmp.path());
    for cmd in [
        "/nonexistent/bin/python3",
        "pyusage-no-such-command-anywhere",
    ] {
        let out = run(run_cmd(&site, &lib).args(["--", cmd, "-c", "pass"]));
        out.assert_no_crash();
        assert_eq!(out.code, Some(127), "{out}");
        assert!(
            out.stderr.contains("cannot run") && out.stderr.contains(cmd),
            "error does not name {cmd}:\n{out}"
        );
    }
    // A command that is not executable.
    let script = site.tmp.path().join("not-executable.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let out = run(run_cmd(&site, &lib).arg("--").arg(&script));
    out.assert_no_crash();
    assert_eq!(out.code, Some(126), "{out}");
    assert!(out.stderr.contains(&script.display().to_string()), "{out}");
    // No command at all: usage error.
    let out = run(&mut run_cmd(&site, &lib));
    out.assert_code(125);
    assert!(out.stderr.contains("CMD"), "{out}");
}

#[test]
fn run_with_a_missing_library_fails_before_running_anything() {
    let site = Site::new();
    let marker = site.tmp.path().join("ran");
    let touch = ["--", "touch", marker.to_str().unwrap()];
    let missing = site.tmp.path().join("lib/libpyusage.so");

    let out = run(run_cmd(&site, &missing).args(touch));
    out.assert_no_crash();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(out.stderr.contains(&missing.display().to_string()), "{out}");
    assert!(!marker.exists(), "the command ran without its tracer");

    // Through $PYUSAGE_LIB.
    let mut c = pyusage(["run", "--config"]);
    c.arg(&site.config)
        .arg("--spool")
        .arg(&site.spool)
        .arg("--runtime-dir")
        .arg(&site.runtime)
        .env("PYUSAGE_LIB", &missing)
        .args(touch);
    let out = run(&mut c);
    out.assert_no_crash();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(out.stderr.contains(&missing.display().to_string()), "{out}");
    assert!(!marker.exists());

    // No --lib and none installed beside the program: a copy of pyusage in
    // a bare bin/ directory.
    let bin = site.tmp.path().join("prefix/bin");
    fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("pyusage");
    fs::copy(exe(), &copy).unwrap();
    let mut c = std::process::Command::new(&copy);
    for v in SETTING_VARS {
        c.env_remove(v);
    }
    c.arg("run")
        .arg("--config")
        .arg(&site.config)
        .arg("--spool")
        .arg(&site.spool)
        .arg("--runtime-dir")
        .arg(&site.runtime)
        .args(touch);
    let out = run(&mut c);
    out.assert_no_crash();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.stderr.contains("libpyusage.so not found") && out.stderr.contains("--lib"),
        "{out}"
    );
    assert!(!marker.exists());

    // Installed as the README says (`lib/pyusage/` beside `bin/`): found,
    // and put in LD_PRELOAD.
    let libdir = site.tmp.path().join("prefix/lib/pyusage");
    fs::create_dir_all(&libdir).unwrap();
    fs::copy(
        lib_for_failures(site.tmp.path()),
        libdir.join("libpyusage.so"),
    )
    .unwrap();
    let out = run(&mut c);
    out.assert_ok();
    assert!(marker.exists(), "the command did not run:\n{out}");
    let mut c2 = std::process::Command::new(&copy);
    for v in SETTING_VARS {
        c2.env_remove(v);
    }
    c2.env_remove("LD_PRELOAD")
        .arg("run")
        .arg("--config")
        .arg(&site.config)
        .arg("--spool")
        .arg(&site.spool)
        .arg("--runtime-dir")
        .arg(&site.runtime)
        .args(["--", "/usr/bin/env"]);
    let out = run(&mut c2);
    out.assert_ok();
    let want = format!(
        "LD_PRELOAD={}",
        fs::canonicalize(libdir.join("libpyusage.so"))
            .unwrap()
            .display()
    );
    assert!(out.stdout.lines().any(|l| l == want), "no `{want}`:\n{out}");
}

#[test]
fn run_with_an_unusable_spool_or_runtime_dir_fails_before_running_anything() {
    let site = Site::new();
    let marker = site.tmp.path().join("ran");
    let file = site.tmp.path().join("a-file");
    fs::write(&file, "").unwrap();
    let lib = lib_for_failures(site.tmp.path());
    for which in ["--spool", "--runtime-dir"] {
        let bad = file.join("sub");
        let (spool, runtime) = if which == "--spool" {
            (bad.clone(), site.runtime.clone())
        } else {
            (site.spool.clone(), bad.clone())
        };
        let mut c = pyusage(["run", "--config"]);
        c.arg(&site.config)
            .arg("--lib")
            .arg(&lib)
            .arg("--spool")
            .arg(&spool)
            .arg("--runtime-dir")
            .arg(&runtime)
            .args(["--", "touch", marker.to_str().unwrap()]);
        let out = run(&mut c);
        out.assert_no_crash();
        assert_eq!(out.code, Some(125), "{which}: {out}");
        assert!(
            out.stderr.contains(&bad.display().to_string()),
            "{which}: error does not name {}:\n{out}",
            bad.display()
        );
        assert!(!marker.exists(), "{which}: the command ran");
    }
    // Same from the configuration file.
    let cfg = site.tmp.path().join("bad-spool.toml");
    fs::write(&cfg, format!("spool = \"{}/sub\"\n", file.display())).unwrap();
    let out = run(pyusage(["run", "--config"])
        .arg(&cfg)
        .arg("--lib")
        .arg(&lib)
        .arg("--runtime-dir")
        .arg(&site.runtime)
        .args(["--", "touch", marker.to_str().unwrap()]));
    out.assert_no_crash();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.stderr.contains(&format!("{}/sub", file.display())),
        "{out}"
    );
    assert!(!marker.exists());
}

/// A closed pipe ends the output quietly, as it does `cat`'s: no "Broken
/// pipe" message, no abort, only SIGPIPE (what a shell expects of `| head`).
#[test]
fn closed_pipe_ends_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let t = Tree::new();
    let m = t.tmp.path().join("m.bin");
    t.build(&m).assert_ok();
    // 20,000 lines: far more than a pipe holds.
    let paths: Vec<PathBuf> = (0..20_000)
        .map(|i| t.site.join(format!("alpha/mod{i}.py")))
        .collect();
    let mut child = pyusage(["map", "query", "--map"])
        .arg(&m)
        .args(&paths)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("alpha"), "first line: {first:?}");
    // The reader is gone; the writer must notice and stop.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, "", "stderr after a closed pipe");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "expected death by SIGPIPE, got {:?}",
        out.status
    );
}

/// A usage error of `pyusage run` is its own failure (125), not a status the
/// wrapped command could have returned.
#[test]
fn run_usage_error_exits_125() {
    let out = run(&mut pyusage(["run", "--spool"]));
    out.assert_no_crash();
    assert_eq!(out.code, Some(125), "{out}");
    let out = run(&mut pyusage(["map", "--no-such-option"]));
    assert_eq!(out.code, Some(2), "{out}");
}

/// `$PYUSAGE_*` count for the tools exactly when they count for the tracer:
/// while the system file allows user settings. Otherwise the tools say they
/// ignore the variable, and use the file's value.
#[test]
fn setting_variables_follow_the_system_policy() {
    let dir = tempfile::tempdir().unwrap();
    let forbids = config_file(
        dir.path(),
        "system.toml",
        "spool = \"/site/spool\"\nallow_user_config = false\n",
    );
    let allows = config_file(dir.path(), "open.toml", "spool = \"/site/spool\"\n");
    let show = |system: &Path| {
        run(pyusage(["config", "show", "--system-config"])
            .arg(system)
            .env("PYUSAGE_SPOOL", "/user/spool"))
    };
    let out = show(&forbids);
    out.assert_ok();
    assert!(out.stdout.contains("spool = \"/site/spool\""), "{out}");
    assert!(
        out.stderr
            .contains("pyusage: warning: $PYUSAGE_SPOOL is set")
            && out.stderr.contains("allow_user_config = false"),
        "{out}"
    );
    let out = show(&allows);
    out.assert_ok();
    assert!(out.stdout.contains("spool = \"/user/spool\""), "{out}");
    assert_eq!(out.stderr, "", "{out}");
    // A command-line option is the caller's explicit choice: always taken.
    let out = run(pyusage(["config", "show", "--system-config"])
        .arg(&forbids)
        .args(["--spool", "/flag/spool"]));
    out.assert_ok();
    assert!(out.stdout.contains("spool = \"/flag/spool\""), "{out}");
}

/// `map build` takes its `[map_build]` table from `$PYUSAGE_CONFIG` when
/// `--config` is absent (no system file forbids user settings here), and
/// `--config` wins over the variable.
#[test]
fn map_build_reads_the_config_named_by_the_environment() {
    let t = Tree::new();
    let cfg = config_file(
        t.tmp.path(),
        "c.toml",
        &format!("[map_build]\nroots = [{:?}]\n", t.site.to_str().unwrap()),
    );
    let out_map = t.tmp.path().join("env.bin");
    let out = run(pyusage(["map", "build", "--quiet", "--output"])
        .arg(&out_map)
        .env("PYUSAGE_CONFIG", &cfg));
    out.assert_ok();
    let q = run(pyusage(["map", "query", "--map"])
        .arg(&out_map)
        .arg(t.site.join("alpha/core.py")));
    q.assert_ok();
    assert!(q.stdout.contains("alpha"), "{q}");
    // An explicit --config without roots: nothing to scan, whatever the variable says.
    let empty = config_file(t.tmp.path(), "empty.toml", "");
    let out = run(pyusage(["map", "build", "--quiet", "--output"])
        .arg(&out_map)
        .arg("--config")
        .arg(&empty)
        .env("PYUSAGE_CONFIG", &cfg));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("nothing to scan"), "{out}");
}

/// `map query` and `map stats` read the configured map when `--map` is
/// absent, as `sweep` does.
#[test]
fn map_query_and_stats_default_to_the_configured_map() {
    let t = Tree::new();
    let m = t.tmp.path().join("configured.bin");
    t.build(&m).assert_ok();
    let cfg = config_file(
        t.tmp.path(),
        "c.toml",
        &format!("map = {:?}\n", m.to_str().unwrap()),
    );
    let out = run(pyusage(["map", "stats", "--config"]).arg(&cfg));
    out.assert_ok();
    assert!(out.stdout.contains(&m.display().to_string()), "{out}");
    let out = run(pyusage(["map", "query", "--config"])
        .arg(&cfg)
        .arg(t.site.join("alpha/core.py")));
    out.assert_ok();
    assert!(out.stdout.contains("alpha"), "{out}");
    // Through $PYUSAGE_MAP, too (no system file forbids it here).
    let out = run(pyusage(["map", "stats"]).env("PYUSAGE_MAP", &m));
    out.assert_ok();
    assert!(out.stdout.contains(&m.display().to_string()), "{out}");
}
