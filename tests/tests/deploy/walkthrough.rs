//! The README's deployment walkthrough, from nothing to records, into the
//! store and out as a report, run as written: its `sh` blocks are
//! read from README.md and executed by bash in a private mount namespace where
//! `/opt/pyusage`, `/etc/pyusage`, `/var/spool/pyusage`, `/var/lib/pyusage`
//! and `/dev/shm/pyusage` are bind mounts of temp dirs (the empty mount
//! points are created on the machine if missing; nothing else there changes).

use crate::common::{bash, shell_quote, show, spool_records};
use crate::need_dist_lib;
use pyusage_tests::artifacts::repo_root;
use pyusage_tests::{is_root, or_skip};
use std::fs;
use std::path::Path;

/// The body of the README's ```sh block whose first line is `first`.
fn readme_block(first: &str) -> String {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("```sh\n{first}\n"))
        .unwrap_or_else(|| panic!("README.md has no ```sh block starting with `{first}`"));
    let body = &readme[start + "```sh\n".len()..];
    body[..body.find("```").expect("unterminated block")].to_string()
}

/// The mount points, with the mode each gets if the test creates it: the
/// modes `make install` and the tracer would give them.
const MOUNTS: [(&str, u32); 5] = [
    ("/opt/pyusage", 0o755),
    ("/etc/pyusage", 0o755),
    ("/var/spool/pyusage", 0o1733),
    ("/var/lib/pyusage", 0o755),
    ("/dev/shm/pyusage", 0o1777),
];

#[test]
fn readme_walkthrough_from_nothing_to_records() {
    need_dist_lib!();
    let ready = is_root()
        && Path::new("/etc/profile.d/lmod.sh").is_file()
        && Path::new("/usr/bin/python3").is_file()
        && Path::new("/usr/lib/python3/dist-packages/numpy").is_dir();
    or_skip!(
        ready.then_some(()),
        "needs root, Debian's lmod and python3-numpy (tests/fixtures/system-deps.sh)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut binds = String::new();
    for (m, mode) in MOUNTS {
        let src = tmp.path().join(m.trim_start_matches('/').replace('/', "_"));
        fs::create_dir(&src).unwrap();
        if !Path::new(m).exists() {
            fs::create_dir_all(m).unwrap_or_else(|e| panic!("cannot create mount point {m}: {e}"));
            fs::set_permissions(m, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        }
        binds += &format!("mount --bind {} {m}\n", shell_quote(src.to_str().unwrap()));
    }
    let spool = tmp.path().join("var_spool_pyusage");
    let probe = bash("unshare --mount --propagation private true", &[]);
    or_skip!(
        probe.status.success().then_some(()),
        "mount namespaces unavailable: {}",
        show(&probe)
    );
    // Each block runs in its own namespace over the same bind sources, in
    // the checkout, as a root login shell would (the module loaded again).
    // The block's own commands may fail (the killed python exits 137): what
    // they leave is the check. NO_BUILD: `make dist` ran before the tests.
    let run = |block: &str| {
        let script = format!(
            "set -e\n{binds}cd {repo}\nset +e -x\n. /etc/profile.d/lmod.sh\n\
             module use /opt/pyusage/share/modulefiles 2>/dev/null\n\
             module load pyusage 2>/dev/null\n{block}\n",
            repo = shell_quote(repo_root().to_str().unwrap()),
        );
        bash(
            &format!(
                "exec unshare --mount --propagation private bash -c {}",
                shell_quote(&script)
            ),
            &[("NO_BUILD", "1")],
        )
    };
    let out = run(&readme_block("# walkthrough: from nothing to records"));
    assert!(
        out.status.success(),
        "the README walkthrough failed: {}",
        show(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Steps whose failure would not show in the records.
    assert!(
        text.contains("/etc/pyusage/config.toml: ok"),
        "config check: {}",
        show(&out)
    );

    // Two records, both with numpy resolved through the map: one shipped at
    // exit, one by the sweep after SIGKILL.
    let recs = spool_records(&spool);
    assert_eq!(recs.len(), 2, "{}\n{recs:#?}", show(&out));
    let mut hows: Vec<&str> = recs
        .iter()
        .map(|r| r["ended"]["how"].as_str().unwrap())
        .collect();
    hows.sort();
    assert_eq!(hows, ["exit", "vanished"], "{recs:#?}");
    for r in &recs {
        let numpy = r["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "numpy")
            .unwrap_or_else(|| panic!("numpy not resolved: {r}"));
        assert!(numpy["version"].is_string(), "{r}");
    }
    // `ls /var/spool/pyusage` listed them.
    for r in &recs {
        assert!(text.contains(r["id"].as_str().unwrap()), "{text}");
    }
    // Into the store: the spool is emptied into the configured SQLite file.
    let store = tmp.path().join("var_lib_pyusage/usage.db");
    let out = run(&readme_block("# walkthrough: into the store"));
    assert!(
        out.status.success(),
        "pyusage ingest failed: {}",
        show(&out)
    );
    assert!(
        store.is_file(),
        "no store at /var/lib/pyusage/usage.db: {}",
        show(&out)
    );
    assert!(
        spool_records(&spool).is_empty(),
        "ingest left the spool: {}",
        show(&out)
    );

    // The report names what ran.
    let out = run(&readme_block("# walkthrough: to a report"));
    assert!(
        out.status.success(),
        "pyusage report failed: {}",
        show(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("numpy"),
        "the report does not name numpy:\n{text}"
    );
}
