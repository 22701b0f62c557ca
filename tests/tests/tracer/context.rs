//! Context and control: Slurm job fields, rank filtering, opt-out, config
//! keys, the two ways of pointing the tracer at its dirs (`pyusage run`, env
//! overrides), and the `$ORIGIN` RUNPATH pitfall of interposing `dlopen`.

use pyusage_tests::fixtures::{module, runpath_libs};
use pyusage_tests::python::Python;
use pyusage_tests::{dump, or_skip, rfc3339_now, Prog, Record, Tracer};
use serde_json::json;

const SLURM: &[(&str, &str)] = &[
    ("SLURM_JOB_ID", "42"),
    ("SLURM_STEP_ID", "0"),
    ("SLURM_JOB_NUM_NODES", "2"),
    ("SLURM_NTASKS", "4"),
    ("SLURM_CLUSTER_NAME", "c1"),
];

fn py() -> Option<Python> {
    Python::pyenv("3.11.7")
}

/// A probe program that imports one module of its own; returns the program
/// and the module file.
fn probe(py: &Python, t: &Tracer) -> (Prog, std::path::PathBuf) {
    let dir = t.scratch("mods");
    let file = module(&dir, "pyusage_ctx_probe", "X = 1\n");
    let code = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport pyusage_ctx_probe\nprint('ok')\n",
        dir.to_str().unwrap()
    );
    (py.prog().arg("-c").arg(code), file)
}

fn slurm(prog: Prog, rank: &str) -> Prog {
    let mut p = prog;
    for (k, v) in SLURM {
        p = p.env(k, v);
    }
    p.env("SLURM_PROCID", rank)
}

fn slurm_rank0(py: &Python) {
    let t = Tracer::new();
    let (prog, file) = probe(py, &t);
    let before = rfc3339_now();
    let out = slurm(prog, "0").run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    let mut e = py.expect(&out, &before).script(Some("-c"));
    e.no_job = false;
    e.check(&r);
    assert_eq!(
        r.0["job"],
        json!({"scheduler": "slurm", "id": "42", "step": "0", "cluster": "c1",
               "nodes": 2, "tasks": 4, "rank": 0,
               "partition": null, "gpus": null, "cpus_per_task": null}),
        "{r:?}"
    );
    r.assert_unmapped_covers(&file);
}

per_python!(slurm_rank0();
    slurm_job_fields_3_11 => Python::pyenv("3.11.7"),
    slurm_job_fields_debian_static => Python::debian(),
);

/// A GPU step: partition, the step's GPUs (a list of indices, counted) and
/// CPUs per task; outside Slurm's GPU variables, `CUDA_VISIBLE_DEVICES`.
#[test]
fn slurm_partition_gpus_and_cpus_per_task() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new();
    let (prog, _) = probe(&py, &t);
    let out = slurm(prog, "0")
        .env("SLURM_JOB_PARTITION", "gpu")
        .env("SLURM_CPUS_PER_TASK", "8")
        .env("SLURM_JOB_GPUS", "0,1,2,3")
        .env("SLURM_STEP_GPUS", "2,3")
        .env("CUDA_VISIBLE_DEVICES", "0,1")
        .run_both(&t);
    let r = t.record_of(out.pid);
    assert_eq!(r.0["job"]["partition"], json!("gpu"), "{r:?}");
    assert_eq!(r.0["job"]["gpus"], json!(2), "{r:?}");
    assert_eq!(r.0["job"]["cpus_per_task"], json!(8), "{r:?}");

    let (prog, _) = probe(&py, &t);
    let out = slurm(prog, "0")
        .env("CUDA_VISIBLE_DEVICES", "GPU-aa,GPU-bb,GPU-cc")
        .run_both(&t);
    let r = t.record_of(out.pid);
    assert_eq!(r.0["job"]["gpus"], json!(3), "{r:?}");
    assert_eq!(r.0["job"]["partition"], json!(null), "{r:?}");
}

#[test]
fn slurm_other_ranks_leave_no_record() {
    let py = or_skip!(py(), "3.11.7 missing");
    for rank in ["1", "3"] {
        let t = Tracer::new();
        let (prog, _) = probe(&py, &t);
        slurm(prog, rank).run_both(&t).assert_success();
        assert!(
            t.spool_files().is_empty(),
            "rank {rank} of 4 shipped a record (only rank 0 by default)"
        );
        t.sweep();
        assert!(
            t.spool_files().is_empty(),
            "rank {rank}: the sweep found a raw record and shipped it"
        );
    }
}

#[test]
fn slurm_all_ranks_config() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("all_ranks = true");
    let (prog, _) = probe(&py, &t);
    let out = slurm(prog, "1").run_both(&t);
    let r = t.record_of(out.pid);
    assert_eq!(r.0["job"]["rank"], json!(1), "{r:?}");
    assert_eq!(r.0["job"]["id"], json!("42"), "{r:?}");
}

// ---------------------------------------------------------------- MPI ranks

/// `mpirun -np 4` of an mpi4py program inside a Slurm batch script: every
/// rank inherits the batch step's `SLURM_PROCID=0` and `SLURM_NTASKS=1`;
/// Open MPI gives each its own rank and size. Returns the records and the
/// ranks the program itself printed (sorted).
fn mpirun_4(t: &Tracer) -> Option<(Vec<Record>, Vec<u32>)> {
    let py = Python::debian()?;
    let mpirun = std::path::Path::new("/usr/bin/mpirun");
    if !mpirun.is_file() || !std::path::Path::new("/usr/lib/python3/dist-packages/mpi4py").is_dir()
    {
        return None;
    }
    let code =
        "from mpi4py import MPI\nc = MPI.COMM_WORLD\nprint('rank', c.Get_rank(), c.Get_size())\n";
    let mut prog = Prog::new(mpirun)
        .args(["--oversubscribe", "-np", "4"])
        .arg(&py.exe)
        .args(["-c", code])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("SLURM_PROCID", "0")
        .env("SLURM_NTASKS", "1");
    for (k, v) in SLURM.iter().filter(|(k, _)| *k != "SLURM_NTASKS") {
        prog = prog.env(k, v);
    }
    let out = prog.run_traced(t);
    out.assert_success();
    let mut ranks: Vec<u32> = out
        .stdout_str()
        .lines()
        .filter_map(|l| l.strip_prefix("rank "))
        .map(|l| {
            assert!(l.ends_with(" 4"), "world size is not 4: {l}");
            l.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    ranks.sort();
    Some((t.records(), ranks))
}

fn python_ranks(recs: &[Record]) -> Vec<u32> {
    let mut ranks: Vec<u32> = recs
        .iter()
        .filter(|r| r.0["script"] == json!("-c"))
        .map(|r| {
            assert_eq!(r.0["job"]["tasks"], json!(4), "{r:?}");
            assert_eq!(r.0["job"]["id"], json!("42"), "{r:?}");
            r.0["job"]["rank"].as_u64().unwrap() as u32
        })
        .collect();
    ranks.sort();
    ranks
}

#[test]
fn mpirun_in_slurm_batch_records_rank_0_only() {
    let t = Tracer::new();
    let (recs, printed) = or_skip!(mpirun_4(&t), "mpirun, mpi4py or Debian's python3 missing");
    assert_eq!(printed, [0, 1, 2, 3]);
    assert_eq!(python_ranks(&recs), [0], "{}", dump(&recs));
    t.sweep();
    assert_eq!(
        python_ranks(&t.records()),
        [0],
        "the sweep shipped other ranks"
    );
}

#[test]
fn mpirun_in_slurm_batch_all_ranks_config() {
    let t = Tracer::new().with_config("all_ranks = true");
    let (recs, printed) = or_skip!(mpirun_4(&t), "mpirun, mpi4py or Debian's python3 missing");
    assert_eq!(printed, [0, 1, 2, 3]);
    assert_eq!(python_ranks(&recs), [0, 1, 2, 3], "{}", dump(&recs));
}

#[test]
fn opt_out_with_pyusage_disable() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new();
    let (prog, _) = probe(&py, &t);
    prog.env("PYUSAGE_DISABLE", "1")
        .run_both(&t)
        .assert_success();
    t.assert_nothing_written("PYUSAGE_DISABLE=1");
    t.sweep();
    assert!(t.spool_files().is_empty());
}

/// Only the system config file may forbid opting out: a user's
/// `PYUSAGE_CONFIG` saying `allow_opt_out = false` does not override
/// `PYUSAGE_DISABLE=1`. (The system file is `/etc/pyusage/config.toml`,
/// shared by every process on the machine, so the tests leave it alone.)
#[test]
fn user_config_cannot_forbid_opt_out() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("allow_opt_out = false\nallow_user_config = false");
    let (prog, _) = probe(&py, &t);
    prog.env("PYUSAGE_DISABLE", "1")
        .run_both(&t)
        .assert_success();
    t.assert_nothing_written("allow_opt_out = false in a user config");
}

/// The same user config without the opt-out: a record, so the file is read.
#[test]
fn user_config_with_admin_keys_still_traces() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("allow_opt_out = false\nallow_user_config = false");
    let (prog, file) = probe(&py, &t);
    let out = prog.run_both(&t);
    t.record_of(out.pid).assert_unmapped_covers(&file);
}

#[test]
fn disabled_by_config() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("enabled = false");
    let (prog, _) = probe(&py, &t);
    prog.run_both(&t).assert_success();
    t.assert_nothing_written("enabled = false");
}

#[test]
fn env_overrides_with_empty_config() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_env_overrides();
    assert_eq!(std::fs::read_to_string(&t.config).unwrap(), "");
    let (prog, file) = probe(&py, &t);
    let before = rfc3339_now();
    let out = prog.run_both(&t);
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_unmapped_covers(&file);
}

#[test]
fn pyusage_run_execs_the_command() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_env_overrides();
    let (prog, file) = probe(&py, &t);
    let plain = prog.run_plain();
    let before = rfc3339_now();
    let out = prog
        .via_pyusage_run(&t)
        .env("PYUSAGE_CONFIG", &t.config)
        .run_plain();
    out.assert_same_as(&plain, "pyusage run");
    let r = t.record_of(out.pid);
    // `pyusage run` execs: same pid, our child, the python's exe.
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_unmapped_covers(&file);
    assert_eq!(t.records().len(), 1, "{}", dump(&t.records()));
}

#[test]
fn pyusage_run_exit_status_passes_through() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_env_overrides();
    let prog = py.prog().args([
        "-c",
        "import sys, json; sys.stderr.write('e\\n'); sys.exit(5)",
    ]);
    let plain = prog.run_plain();
    let out = prog
        .via_pyusage_run(&t)
        .env("PYUSAGE_CONFIG", &t.config)
        .run_plain();
    out.assert_same_as(&plain, "pyusage run, exit 5");
    for r in t.records() {
        r.assert_ended("exit", Some(5), None);
    }
}

// --------------------------------------------------------- $ORIGIN RUNPATH

fn runpath_python(py: &Python) {
    let t = Tracer::new();
    let libs = match runpath_libs(&t.scratch("runpath")) {
        Ok(l) => l,
        Err(e) => pyusage_tests::skip!("{e}"),
    };
    let elsewhere = t.scratch("elsewhere");
    let code = format!(
        "import ctypes\nlib = ctypes.CDLL({:?})\nprint(lib.pyusage_load_sibling())\n",
        libs.loader.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(code).cwd(&elsewhere).run_both(&t);
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        format!("{}\n", libs.value),
        "libloader could not dlopen its $ORIGIN sibling: {out:?}"
    );
    t.record_of(out.pid);
}

per_python!(runpath_python();
    runpath_origin_sibling_ctypes_3_11 => Python::pyenv("3.11.7"),
    runpath_origin_sibling_ctypes_3_13 => Python::pyenv("3.13.0"),
    runpath_origin_sibling_ctypes_debian_static => Python::debian(),
    runpath_origin_sibling_ctypes_2_7 => Python::pyenv("2.7.18"),
);

#[test]
fn runpath_origin_sibling_c_program() {
    let t = Tracer::new();
    let libs = match runpath_libs(&t.scratch("runpath")) {
        Ok(l) => l,
        Err(e) => pyusage_tests::skip!("{e}"),
    };
    let out = Prog::new(&libs.c_program)
        .arg(&libs.loader)
        .cwd(t.scratch("elsewhere"))
        .run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), format!("{}\n", libs.value));
    t.assert_nothing_written("a C program");
}

// ------------------------------------------------------------ native, config

/// Libraries of the flagged kinds, loaded with `ctypes`, land in `native`
/// by file name; an ordinary library does not.
#[test]
fn native_libraries_by_kind() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new();
    let dir = t.scratch("native");
    let names = [
        ("mpi", "libmpi.so.40"),
        ("cuda", "libcudart.so.12"),
        ("blas", "libopenblas.so.0"),
        ("none", "libplainthing.so.1"),
    ];
    let src = dir.join("empty.c");
    std::fs::write(&src, "int pyusage_native_probe(void) { return 1; }\n").unwrap();
    for (_, name) in names {
        let out = std::process::Command::new("gcc")
            .args(["-shared", "-fPIC"])
            .arg(format!("-Wl,-soname,{name}"))
            .arg("-o")
            .arg(dir.join(name))
            .arg(&src)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!("gcc: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => pyusage_tests::skip!("gcc is not available: {e}"),
        }
    }
    let code = format!(
        "import ctypes, os\nd = {:?}\nfor n in {:?}:\n    ctypes.CDLL(os.path.join(d, n))\nprint('loaded')\n",
        dir.to_str().unwrap(),
        names.iter().map(|n| n.1).collect::<Vec<_>>()
    );
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    for (kind, name) in &names[..3] {
        assert_eq!(r.0["native"][kind], json!([name]), "native.{kind}: {r:?}");
    }
}

/// A tiny raw record fills up: the process is unharmed, the record says
/// `truncated` and is still valid.
#[test]
fn small_record_is_truncated_not_harmful() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("record_bytes = 4096");
    let dir = t.scratch("many");
    for i in 0..300 {
        let d = dir.join(format!("pyusage_many_{i:03}"));
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("__init__.py"), format!("N = {i}\n")).unwrap();
    }
    let code = format!(
        "import sys, importlib\nsys.path.insert(0, {:?})\n\
         print(sum(importlib.import_module('pyusage_many_%03d' % i).N for i in range(300)))\n",
        dir.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "44850\n");
    let r = t.record_of(out.pid);
    assert_eq!(r.0["truncated"], json!(true), "{r:?}");
    r.assert_ended("exit", Some(0), None);
}

/// `sample = 0.0`: nothing is traced.
#[test]
fn sample_zero_traces_nothing() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("sample = 0.0");
    let (prog, _) = probe(&py, &t);
    prog.run_both(&t).assert_success();
    t.assert_nothing_written("sample = 0.0");
}

// ------------------------------------------------------------------ embedded

/// A C program embedding libpython (pyenv 3.11, shared libpython) that
/// runs one interpreter per argument (`Py_Initialize`, the code,
/// `Py_FinalizeEx`), each importing a module of its own. Traced like
/// `python` itself; returns the record and each round's module file.
fn embedded(rounds: usize) -> Option<(Record, Vec<std::path::PathBuf>)> {
    let py = py()?;
    let t = Tracer::new();
    let dir = t.scratch("embed");
    let config = py.path.with_file_name("python3.11-config");
    let flags = std::process::Command::new(&config)
        .args(["--embed", "--cflags", "--ldflags"])
        .output();
    let flags = match flags {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        _ => pyusage_tests::skip!("{} does not run", config.display()),
    };
    let src = dir.join("embed.c");
    std::fs::write(
        &src,
        r#"#include <Python.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        Py_Initialize();
        if (PyRun_SimpleString(argv[i]) != 0) return 121;
        if (Py_FinalizeEx() < 0) return 120;
    }
    return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("embed");
    let gcc = std::process::Command::new("gcc")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .args(flags.split_whitespace())
        .output();
    match gcc {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("gcc embed.c: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => pyusage_tests::skip!("gcc is not available: {e}"),
    }
    let mut files = Vec::new();
    // As under a module system: the interpreter's bin dir first on PATH
    // (an embedded interpreter without a program name finds its prefix
    // through `python3` on PATH).
    let path = format!("{}:/usr/bin:/bin", py.path.parent().unwrap().display());
    let mut prog = Prog::new(&exe).env("PATH", path);
    for i in 0..rounds {
        let name = format!("pyusage_embedded_{i}");
        files.push(module(&dir, &name, &format!("X = {i}\n")));
        prog = prog.arg(format!(
            "import sys\nsys.path.insert(0, {:?})\nimport json, {name}\nprint(json.dumps({name}.X))\nprint(sys.prefix)\n",
            dir.to_str().unwrap()
        ));
    }
    let before = rfc3339_now();
    let out = prog.run_both(&t);
    out.assert_success();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * rounds, "{out:?}");
    for i in 0..rounds {
        assert_eq!(lines[2 * i], i.to_string());
    }
    let r = t.record_of(out.pid);
    let mut e = py.expect(&out, &before);
    e.exe = exe.clone();
    e.prefix = Some(lines[1].to_owned());
    assert_eq!(lines[1], py.prefix, "the embedded interpreter's own prefix");
    e.check(&r);
    r.assert_ended("exit", Some(0), None);
    r.assert_unmapped_covers(&files[0]);
    assert_eq!(t.records().len(), 1);
    Some((r, files))
}

#[test]
fn embedded_interpreter() {
    or_skip!(embedded(1), "cannot build the embedding program");
}

/// Initialising a second time is harmless (the first interpreter's
/// imports are recorded, one record).
#[test]
fn embedded_interpreter_initialised_twice() {
    or_skip!(embedded(2), "cannot build the embedding program");
}

/// `Py_FinalizeEx` clears the audit hooks: the second interpreter's imports
/// are only recorded if the tracer registers its hook again.
#[test]
fn embedded_second_interpreter_recorded() {
    let (r, files) = or_skip!(embedded(2), "cannot build the embedding program");
    r.assert_unmapped_covers(&files[1]);
}

// ------------------------------------------------------- broken setups

/// Whatever is wrong with the tracer's setup, the process is unharmed:
/// same output, same status, nothing on stderr.
#[test]
fn broken_setup_never_harms() {
    let py = or_skip!(py(), "3.11.7 missing");
    let base = Tracer::new();
    let junk = base.scratch("junk");
    let file = junk.join("a-file");
    std::fs::write(&file, "not a dir").unwrap();
    let garbage_map = junk.join("garbage.map");
    std::fs::write(&garbage_map, vec![0xa5u8; 4096]).unwrap();
    let truncated_map = junk.join("empty.map");
    std::fs::write(&truncated_map, b"").unwrap();
    let missing = junk.join("missing/deeper");
    let q = |p: &std::path::Path| format!("{:?}", p.to_str().unwrap());
    // Each case with the number of records it must leave: none where the
    // spool cannot be written (the tracer never creates it), else the
    // process's one record (a runtime dir that cannot hold the raw record
    // means a record built in memory; bad values fall back to the defaults;
    // a bad map means raw paths).
    let cases = [
        (format!("spool = {}", q(&missing)), 0),
        (format!("runtime_dir = {}", q(&file)), 1),
        (
            format!("runtime_dir = {}\nspool = {}", q(&missing), q(&file)),
            0,
        ),
        (format!("map = {}", q(&garbage_map)), 1),
        (format!("map = {}", q(&truncated_map)), 1),
        (format!("map = {}", q(&missing)), 1),
        (
            "record_bytes = 12\nsample = 7\nenabled = maybe\n[table]\nx = 1".to_owned(),
            1,
        ),
        ("this is not toml at all \u{1}\u{2}".to_owned(), 1),
    ];
    for (extra, expected) in cases {
        let t = Tracer::new().with_config(&extra);
        let (prog, _) = probe(&py, &t);
        let prog = prog.arg("more").env("PYTHONWARNINGS", "error");
        let out = prog.run_both(&t);
        out.assert_success();
        assert!(out.stderr.is_empty(), "{extra}: {out:?}");
        // Every shipped file is a valid record (records() checks), and the
        // count is the one this setup allows.
        let recs = t.records();
        assert_eq!(
            recs.len(),
            expected,
            "{extra}: {}",
            pyusage_tests::dump(&recs)
        );
        if expected == 1 {
            assert_eq!(recs[0].pid(), out.pid, "{extra}");
        }
    }
}

/// `pyusage run --map M`: packages resolved.
#[test]
fn pyusage_run_with_map() {
    let venv = match pyusage_tests::fixtures::venv_python() {
        Ok(p) => p,
        Err(e) => pyusage_tests::skip!("the test virtualenv is unavailable: {e}"),
    };
    let map = pyusage_tests::fixtures::venv_map().unwrap();
    let py = or_skip!(Python::at(&venv), "venv python does not run");
    let t = Tracer::new().with_env_overrides().with_map(&map);
    let prog = py.prog().args(["-c", "import six\nprint(six.PY3)"]);
    let plain = prog.run_plain();
    let out = prog
        .via_pyusage_run(&t)
        .env("PYUSAGE_CONFIG", &t.config)
        .run_plain();
    out.assert_same_as(&plain, "pyusage run --map");
    let r = t.record_of(out.pid);
    assert!(r.package("six").is_some(), "{r:?}");
}

/// `sample` is any TOML number: `0e0` samples nothing, `1e0` everything
/// (an admin's `1e-3` must not read as a bad line).
#[test]
fn sample_takes_any_toml_number() {
    let py = or_skip!(py(), "3.11.7 missing");
    let never = Tracer::new().with_config("sample = 0e0");
    let (prog, _) = probe(&py, &never);
    prog.run_both(&never).assert_success();
    never.assert_nothing_written("sample = 0e0");

    let always = Tracer::new().with_config("sample = 1e0");
    let (prog, file) = probe(&py, &always);
    let out = prog.run_both(&always);
    always.record_of(out.pid).assert_unmapped_covers(&file);
}

/// A relative `PYUSAGE_RUNTIME_DIR` or `PYUSAGE_SPOOL` would follow the
/// process's working directory, where no sweep looks: the tracer ignores
/// them and keeps the configured directories.
#[test]
fn relative_env_dirs_are_ignored() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new()
        .with_env("PYUSAGE_RUNTIME_DIR", "rt")
        .with_env("PYUSAGE_SPOOL", "spool-here");
    let cwd = t.scratch("cwd");
    let (prog, file) = probe(&py, &t);
    let out = prog.cwd(&cwd).run_traced(&t);
    out.assert_success();
    t.record_of(out.pid).assert_unmapped_covers(&file);
    let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(
        left.is_empty(),
        "the tracer wrote into the working directory: {left:?}"
    );
}
