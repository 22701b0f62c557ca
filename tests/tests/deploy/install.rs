//! `make install` and `make uninstall`, staged in a DESTDIR as a package
//! build would: what lands where, with which modes; re-running it; removing it.

use crate::common::{ok, show, Install};
use crate::need_dist_lib;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Every file the installer lays down, relative to PREFIX (the version
/// directory of the modulefile comes from Cargo.toml).
fn prefix_files() -> Vec<String> {
    let v = env!("CARGO_PKG_VERSION");
    let mut f: Vec<String> = [
        "bin/pyusage",
        "lib/pyusage/libpyusage.so",
        "share/pyusage/slurm-epilog.sh",
        "share/pyusage/cron/pyusage",
        "share/pyusage/config.toml.example",
        "share/pyusage/install-manifest",
        "share/pyusage/systemd/pyusage-sweep.service",
        "share/pyusage/systemd/pyusage-sweep.timer",
        "share/pyusage/systemd/pyusage-ingest.service",
        "share/pyusage/systemd/pyusage-ingest.timer",
        "share/pyusage/systemd/pyusage-canary.service",
        "share/pyusage/systemd/pyusage-canary.timer",
        "share/pyusage/systemd/pyusage-tmpfiles.conf",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.push(format!("share/modulefiles/pyusage/{v}.lua"));
    f.sort();
    f
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn staged_install_lays_down_everything_with_the_prefix_filled_in() {
    let lib = need_dist_lib!();
    let i = Install::staged();
    let prefix = i.on_disk("/opt/pyusage");
    assert_eq!(files_under(&prefix), prefix_files());

    // The library is the old-glibc build, byte for byte; the command runs.
    assert_eq!(fs::read(i.lib()).unwrap(), fs::read(&lib).unwrap());
    assert_eq!(mode(&i.lib()), 0o644);
    assert_eq!(mode(&i.pyusage()), 0o755);
    let v = ok(Command::new(i.pyusage()).arg("--version"));
    assert!(String::from_utf8_lossy(&v.stdout).contains(env!("CARGO_PKG_VERSION")));

    // No template placeholder survives, and the paths are the final ones
    // (never the DESTDIR staging path).
    let stage = i.destdir.clone().unwrap();
    for f in prefix_files() {
        let p = prefix.join(&f);
        if f.starts_with("bin/") || f.starts_with("lib/") {
            continue;
        }
        let text = fs::read_to_string(&p).unwrap();
        for p in ["@PREFIX@", "@SYSCONFDIR@", "@LOCALSTATEDIR@", "@VERSION@"] {
            assert!(!text.contains(p), "{f} keeps {p}:\n{text}");
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find('@') {
            let word: String = rest[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase())
                .collect();
            assert!(
                word.is_empty() || !rest[at + 1 + word.len()..].starts_with('@'),
                "{f} keeps a placeholder @{word}@:\n{text}"
            );
            rest = &rest[at + 1..];
        }
        assert!(
            !text.contains(stage.to_str().unwrap()),
            "{f} names the staging dir:\n{text}"
        );
    }
    let module = fs::read_to_string(prefix.join(format!(
        "share/modulefiles/pyusage/{}.lua",
        env!("CARGO_PKG_VERSION")
    )))
    .unwrap();
    assert!(
        module.contains("local prefix = \"/opt/pyusage\""),
        "{module}"
    );
    let epilog = fs::read_to_string(prefix.join("share/pyusage/slurm-epilog.sh")).unwrap();
    assert!(
        epilog.contains("pyusage=/opt/pyusage/bin/pyusage"),
        "{epilog}"
    );
    assert!(
        epilog.contains("config=/etc/pyusage/config.toml"),
        "{epilog}"
    );
    assert_eq!(mode(&prefix.join("share/pyusage/slurm-epilog.sh")), 0o755);
    let unit =
        fs::read_to_string(prefix.join("share/pyusage/systemd/pyusage-sweep.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/opt/pyusage/bin/pyusage sweep"),
        "{unit}"
    );

    // Config written (paths filled in), spool and state dirs with their modes.
    let config = fs::read_to_string(i.config()).unwrap();
    assert!(
        config.contains("spool = \"/var/spool/pyusage\""),
        "{config}"
    );
    assert!(
        config.contains("map = \"/var/lib/pyusage/map.bin\""),
        "{config}"
    );
    assert_eq!(mode(&i.spool()), 0o1733);
    assert_eq!(mode(&i.on_disk("/var/lib/pyusage")), 0o755);

    // The manifest lists exactly the files under PREFIX (itself aside).
    let manifest = fs::read_to_string(prefix.join("share/pyusage/install-manifest")).unwrap();
    let mut listed: Vec<&str> = manifest.lines().collect();
    listed.sort();
    let expected: Vec<String> = prefix_files()
        .into_iter()
        .filter(|f| !f.ends_with("install-manifest"))
        .map(|f| format!("/opt/pyusage/{f}"))
        .collect();
    assert_eq!(listed, expected);
}

/// The example config explains every key the tracer knows and passes
/// `pyusage config check` as installed (paths filled in).
#[test]
fn example_config_has_every_key_and_checks_clean() {
    need_dist_lib!();
    let i = Install::staged();
    let example = i.on_disk("/opt/pyusage/share/pyusage/config.toml.example");
    let text = fs::read_to_string(&example).unwrap();
    for key in pyusage_record::config::KEYS {
        let line = text
            .lines()
            .position(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| {
                panic!("packaging/config.toml lacks `{key} = ...`: explain every key there")
            });
        let above = text.lines().nth(line.wrapping_sub(1)).unwrap_or("");
        assert!(
            above.starts_with('#'),
            "packaging/config.toml: `{key}` has no comment line above it"
        );
    }
    for f in [example, i.config()] {
        let out = ok(Command::new(i.pyusage())
            .args(["config", "check", "--config"])
            .arg(&f));
        assert!(out.stderr.is_empty(), "{}", show(&out));
    }
}

/// Re-running the install replaces the library and the command by rename (a
/// process that has the old one mapped keeps it intact), keeps the admin's
/// config, and leaves no temp files behind.
#[test]
fn reinstall_replaces_by_rename_and_keeps_the_config() {
    need_dist_lib!();
    let i = Install::staged();
    let old_lib = fs::File::open(i.lib()).unwrap();
    let old_ino = old_lib.metadata().unwrap().ino();
    let old_bytes = fs::read(i.lib()).unwrap();
    let old_bin_ino = fs::metadata(i.pyusage()).unwrap().ino();
    let edited = "# the admin's own config\nenabled = false\n";
    fs::write(i.config(), edited).unwrap();
    let spool_file = i.spool().join("0123456789abcdef0123456789abcdef.json");
    fs::write(&spool_file, "{}").unwrap();

    let out = i.make("install", &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept"),
        "{}",
        show(&out)
    );

    assert_ne!(
        fs::metadata(i.lib()).unwrap().ino(),
        old_ino,
        "library not renamed over"
    );
    assert_ne!(
        fs::metadata(i.pyusage()).unwrap().ino(),
        old_bin_ino,
        "command not renamed over"
    );
    // The old inode, still open, is untouched.
    let mut held = Vec::new();
    std::io::Read::read_to_end(&mut &old_lib, &mut held).unwrap();
    assert_eq!(held, old_bytes);
    assert_eq!(fs::read_to_string(i.config()).unwrap(), edited);
    assert!(spool_file.is_file());
    let leftovers: Vec<String> = files_under(&i.on_disk("/opt/pyusage"))
        .into_iter()
        .filter(|f| {
            Path::new(f)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with('.')
        })
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    assert_eq!(files_under(&i.on_disk("/opt/pyusage")), prefix_files());
}

/// `make uninstall` removes every installed file and the directories it
/// created, keeps the config, the spool's records and the package map, and is
/// safe to run twice.
#[test]
fn uninstall_keeps_config_and_data() {
    need_dist_lib!();
    let i = Install::staged();
    let record = i.spool().join("0123456789abcdef0123456789abcdef.json");
    fs::write(&record, "{}").unwrap();
    fs::write(i.map(), "map").unwrap();
    let config = fs::read_to_string(i.config()).unwrap();

    let out = i.make("uninstall", &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        !i.on_disk("/opt/pyusage").exists(),
        "left behind: {:?}",
        files_under(&i.on_disk("/opt"))
    );
    assert!(
        i.on_disk("/opt").is_dir(),
        "uninstall removed a directory above PREFIX"
    );
    assert_eq!(fs::read_to_string(i.config()).unwrap(), config);
    assert!(record.is_file() && i.map().is_file());

    let again = i.make("uninstall", &[]);
    assert!(again.status.success(), "{}", show(&again));
    // And installing again works after an uninstall.
    let back = i.make("install", &[]);
    assert!(back.status.success(), "{}", show(&back));
    assert_eq!(files_under(&i.on_disk("/opt/pyusage")), prefix_files());
}

/// A relative PREFIX is refused with a message naming it.
#[test]
fn install_refuses_a_relative_prefix() {
    need_dist_lib!();
    let i = Install::staged();
    let out = i.make("install", &["PREFIX=opt/pyusage"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PREFIX must be an absolute path"),
        "{}",
        show(&out)
    );
}
