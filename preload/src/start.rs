//! The constructor: decide in microseconds whether this is CPython; if it is,
//! set up tracing.

use crate::argv::{self, Script};
use crate::cpython;
use crate::globals::{self, Text};
use crate::settings::{self, Env};
use crate::sys::{self, ErrnoGuard};
use core::ffi::{c_char, c_int};
use core::sync::atomic::Ordering;
use pyusage_record::job::Job;
use pyusage_record::sample;

/// Runs before `main` in every process that preloads the library.
pub extern "C" fn constructor(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) {
    if cpython::find_python(args(argc, argv).next().unwrap_or(b"")) {
        start_python(argc, argv, envp);
    }
}

fn args(argc: c_int, argv: *const *const c_char) -> impl Iterator<Item = &'static [u8]> {
    let n = if argv.is_null() {
        0
    } else {
        argc.max(0) as usize
    };
    // SAFETY: argv holds argc valid C strings for the life of the process.
    (0..n).map(move |i| unsafe { sys::cstr(*argv.add(i)) })
}

/// How the audit hook can be registered in this process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HookPlan {
    /// The raw allocator stays plain `malloc`: register as is.
    Plain,
    /// CPython will switch to its debug allocator: allocate the hook entry with
    /// a debug header ([`cpython::Api::add_audit_hook_debug_allocated`]).
    DebugHeader,
    /// Cannot tell, or another allocator: no hook (the record still gets the
    /// interpreter, the exit and the native libraries).
    None,
}

/// Predicts CPython's allocator choice exactly as its pre-configuration does
/// (3.8 to 3.13): `PYTHONMALLOC` unless `-E`/`-I`; otherwise development mode
/// (`-X dev`, or a non-empty `PYTHONDEVMODE` unless `-E`/`-I`) means debug.
/// That exactness holds for the `python` program only. Any other program
/// (an embedding one, or python started under another `argv[0]`) may
/// configure CPython in ways invisible from here: any hint of a debug
/// allocator in its command line or environment, `-E` or not, means no hook.
fn hook_plan(
    api: &cpython::Api,
    env: &Env,
    args: &argv::PyArgs<'_>,
    is_python_program: bool,
) -> HookPlan {
    if api.debug_build {
        return HookPlan::None; // a --with-pydebug build defaults to the debug allocator
    }
    let non_empty = |v: &&[u8]| !v.is_empty();
    if !is_python_program {
        let plain_malloc = |v: &[u8]| matches!(v, b"malloc" | b"pymalloc" | b"default");
        let hint = args.dev_mode
            || env.get(b"PYTHONDEVMODE").filter(non_empty).is_some()
            || env
                .get(b"PYTHONMALLOC")
                .filter(non_empty)
                .is_some_and(|v| !plain_malloc(v));
        return if hint {
            HookPlan::None
        } else {
            HookPlan::Plain
        };
    }
    let env_used = !args.ignore_env;
    let malloc = env
        .get(b"PYTHONMALLOC")
        .filter(non_empty)
        .filter(|_| env_used);
    let dev_mode =
        args.dev_mode || (env_used && env.get(b"PYTHONDEVMODE").filter(non_empty).is_some());
    let debug = match malloc {
        Some(b"debug" | b"malloc_debug" | b"pymalloc_debug") => true,
        Some(b"malloc" | b"pymalloc" | b"default") => false,
        Some(_) => return HookPlan::None, // mimalloc and future allocators
        None => dev_mode,
    };
    if debug {
        HookPlan::DebugHeader
    } else {
        HookPlan::Plain
    }
}

#[inline(never)]
fn start_python(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) {
    sys::resolve_errno();
    let _errno = ErrnoGuard::new();
    let env = Env(envp);
    crate::diag::set_enabled(env.flag(b"PYUSAGE_DEBUG"));
    let api = cpython::resolve();
    let config = settings::load(&env);
    if !config.enabled || (config.allow_opt_out && env.flag(b"PYUSAGE_DISABLE")) {
        return;
    }
    let job = Job::from_env(|name| env.get(name));
    if job.is_some_and(|j| j.is_secondary_rank()) && !config.all_ranks {
        return;
    }
    // Per job: every process of a sampled job records, of the others none.
    let sampled = match job.and_then(|j| j.id.map(|id| (j.cluster.unwrap_or(b""), id))) {
        Some((cluster, id)) => sample::job_sampled(cluster, id, config.sample_ppm),
        None if config.sample_ppm < sample::PPM => {
            let mut r = [0u8; 4];
            sys::random(&mut r);
            sample::process_sampled(u32::from_ne_bytes(r), config.sample_ppm)
        }
        None => true,
    };
    if !sampled {
        return;
    }

    if !crate::seen::init() {
        return;
    }
    let mut all = args(argc, argv);
    let argv0 = all.next().unwrap_or(b"");
    let base = argv0.rsplit(|&c| c == b'/').next().unwrap_or(argv0);
    let looks_like_python = base.starts_with(b"python") || base.starts_with(b"pypy");
    // Parsed whatever argv[0] says: `-X dev` matters even under another name.
    let parsed = argv::parse(all);

    // SAFETY: the constructor runs before main, before any thread of the
    // program exists; ACTIVE is published only at the end.
    let g = unsafe { globals::get_mut() };
    g.api = Some(api);
    g.map = settings::map_package_map(&config.map);
    g.pid = sys::getpid();
    g.start_ns = sys::now_ns();
    g.looks_like_python = looks_like_python;
    g.sample_ppm = config.sample_ppm;
    g.script = parsed.script.filter(|_| looks_like_python).map(|s| {
        let mut t = Text::new();
        match s {
            Script::Command => t.set(b"-c"),
            Script::Module(m) => {
                t.set(b"-m ");
                t.push(m);
            }
            Script::Path(p) => t.set(p),
        }
        t
    });
    if let Some(user) = env.get(b"USER").or_else(|| env.get(b"LOGNAME")) {
        g.user.set(user);
    }
    if let Some(notebook) = env.get(b"JPY_SESSION_NAME") {
        g.notebook.set(notebook);
    }
    if let Some(j) = job {
        let mut put = |key: &[u8], value: &[u8]| {
            g.job.push(key);
            g.job.push(b"=");
            g.job.push(value);
            g.job.push(b"\0");
        };
        put(b"scheduler", j.scheduler.as_bytes());
        for (key, value) in [
            (b"id" as &[u8], j.id),
            (b"step", j.step),
            (b"cluster", j.cluster),
            (b"partition", j.partition),
        ] {
            if let Some(v) = value {
                put(key, v);
            }
        }
        for (key, value) in [
            (b"nodes" as &[u8], j.nodes),
            (b"tasks", j.tasks),
            (b"rank", j.rank),
            (b"gpus", j.gpus),
            (b"cpus_per_task", j.cpus_per_task),
        ] {
            if let Some(v) = value {
                let mut digits = [0u8; 20];
                put(key, sys::decimal(u64::from(v), &mut digits));
            }
        }
    }
    g.config = Some(config);

    if api.hook_ready() {
        let plan = hook_plan(&api, &env, &parsed, looks_like_python);
        g.hooked = match (plan, api.add_audit_hook) {
            // SAFETY: PySys_AddAuditHook may be called before Py_Initialize,
            // which has not run yet (we are in a constructor); the hook is a
            // plain function that lives as long as the process.
            (HookPlan::Plain, Some(add)) => unsafe {
                add(crate::hook::audit_hook, core::ptr::null_mut()) == 0
            },
            // SAFETY: as above, and the plan says CPython will use its debug allocator.
            (HookPlan::DebugHeader, _) => unsafe {
                api.add_audit_hook_debug_allocated(crate::hook::audit_hook)
            },
            _ => false,
        };
    }
    // Without exit handlers a record would never be finished by its process;
    // the audit hook still fills it and the sweep ships it.
    crate::exits::install();
    globals::ACTIVE.store(true, Ordering::Release);
}
