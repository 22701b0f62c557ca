//! The installed modulefile under Debian's Lmod: load traces, unload stops,
//! and the user's own `LD_PRELOAD` and `PATH` entries survive every order of
//! loads, unloads and edits.

use crate::common::{bash, shell_quote, show, Install};
use crate::need_dist_lib;
use pyusage_tests::python::Python;
use pyusage_tests::{is_root, or_skip};
use std::collections::BTreeMap;
use std::path::Path;

const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";
/// Two real libraries a user might preload themselves (harmless to load).
const U1: &str = "/usr/lib/x86_64-linux-gnu/libm.so.6";
const U2: &str = "/usr/lib/x86_64-linux-gnu/libresolv.so.2";

fn lmod() -> Option<()> {
    Path::new(LMOD_INIT).is_file().then_some(())
}

fn skip_msg() -> &'static str {
    if is_root() {
        "Debian's lmod is not installed (tests/fixtures/system-deps.sh installs it)"
    } else {
        "Debian's lmod is not installed and not root to install it"
    }
}

/// Runs `body` in a login-like bash with Lmod initialised and the install's
/// modulefiles on MODULEPATH; `show NAME` prints `NAME=[$LD_PRELOAD]`,
/// `showpath NAME` prints `NAME=[$PATH]`. Returns NAME -> value.
fn lmod_script(i: &Install, py: &Python, body: &str) -> BTreeMap<String, String> {
    let script = format!(
        "set -u\nsource {init}\nmodule use {mf}\n\
         show() {{ echo \"$1=[${{LD_PRELOAD-<unset>}}]\"; }}\n\
         showpath() {{ echo \"$1=[$PATH]\"; }}\n\
         py={py}; u1={U1}; u2={U2}; ours={ours}\n{body}\n",
        init = LMOD_INIT,
        mf = shell_quote(i.modulefiles().to_str().unwrap()),
        py = shell_quote(py.path.to_str().unwrap()),
        ours = shell_quote(i.lib().to_str().unwrap()),
    );
    let config = i.config();
    let out = bash(&script, &[("PYUSAGE_CONFIG", config.to_str().unwrap())]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once("=[")?;
            Some((k.to_string(), v.strip_suffix(']')?.to_string()))
        })
        .collect()
}

/// `module load pyusage`, then a Python run gives a record; `module unload`,
/// then another run gives none. The command is on PATH while loaded.
#[test]
fn load_traces_and_unload_stops() {
    need_dist_lib!();
    or_skip!(lmod(), "{}", skip_msg());
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let i = Install::new();
    let bin = i.pyusage();
    let got = lmod_script(
        &i,
        &py,
        "module load pyusage\nshow loaded\necho \"which=[$(command -v pyusage)]\"\n\
         \"$py\" -c 'import json'\n\
         module unload pyusage\nshow unloaded\necho \"which_after=[$(command -v pyusage || echo none)]\"\n\
         \"$py\" -c 'import json'",
    );
    let recs = i.records();
    assert_eq!(recs.len(), 1, "one record, from the loaded run: {recs:?}");
    assert_eq!(recs[0]["exe"].as_str(), py.exe.to_str());
    assert_eq!(got["loaded"], i.lib().display().to_string());
    assert_eq!(got["which"], bin.display().to_string());
    assert_eq!(got["unloaded"], "<unset>");
    assert_eq!(got["which_after"], "none");
}

/// The user's own preload entries, colon- or space-separated, set before or
/// after the load, survive load and unload in any order, and the tracer
/// records alongside them. Same for PATH.
#[test]
fn users_own_preload_and_path_survive_any_order() {
    need_dist_lib!();
    or_skip!(lmod(), "{}", skip_msg());
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let i = Install::new();
    let got = lmod_script(
        &i,
        &py,
        r#"
export LD_PRELOAD=$u1
module load pyusage; show a_loaded
"$py" -c 'import json'
export LD_PRELOAD="$LD_PRELOAD:$u2"
module unload pyusage; show a_unloaded

unset LD_PRELOAD
module load pyusage
export LD_PRELOAD="$u1:$LD_PRELOAD"
module unload pyusage; show b_unloaded

export LD_PRELOAD="$u1 $u2"
module load pyusage; show c_loaded
module unload pyusage; show c_unloaded

export LD_PRELOAD=$u2
module load pyusage; module load pyusage; module unload pyusage; show d_reload
module load pyusage; module unload pyusage; module load pyusage; module unload pyusage; show d_cycle

export LD_PRELOAD="$ours:$u1"
module load pyusage; module unload pyusage; show e_had_ours

unset LD_PRELOAD
module load pyusage; module unload pyusage; show f_unset

export PATH="/usr/bin:/bin:/home/u/bin"
module load pyusage; showpath p_loaded
export PATH="$PATH:/home/u/later"
module unload pyusage; showpath p_unloaded
"#,
    );
    let ours = i.lib().display().to_string();
    assert_eq!(got["a_loaded"], format!("{ours}:{U1}"));
    assert_eq!(got["a_unloaded"], format!("{U1}:{U2}"));
    assert_eq!(got["b_unloaded"], U1);
    assert!(got["c_loaded"].starts_with(&ours), "{got:?}");
    assert_eq!(got["c_unloaded"], format!("{U1} {U2}"));
    assert_eq!(got["d_reload"], U2);
    assert_eq!(got["d_cycle"], U2);
    assert_eq!(got["e_had_ours"], format!("{ours}:{U1}"));
    assert_eq!(got["f_unset"], "<unset>");
    let bin = i.pyusage().parent().unwrap().display().to_string();
    assert_eq!(got["p_loaded"], format!("{bin}:/usr/bin:/bin:/home/u/bin"));
    assert_eq!(got["p_unloaded"], "/usr/bin:/bin:/home/u/bin:/home/u/later");
    // The run with the user's own preload beside ours was recorded.
    assert_eq!(i.records().len(), 1, "{:?}", i.records());
}
