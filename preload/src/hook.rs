//! The PEP 578 audit hook: CPython calls it for every audited event, in
//! every thread, so it does a byte compare on the event name and returns
//! unless the event is one of the four it cares about.
//!
//! - `open` (`io.open_code` of every `.py`/`.pyc` the import system reads):
//!   resolve the path, record the distribution (`via = import`).
//! - `import`: the first one creates the record; one carrying a file name is an
//!   extension module (`via = extension`); any import may have loaded native
//!   libraries, so walk those that are new.
//! - `os.exec`: the process image is about to be replaced: ship as `exec`.
//!
//! The hook never raises: it always returns 0, so it can never make an
//! operation fail.

use crate::cpython::PyObject;
use crate::globals;
use crate::sys::{self, ErrnoGuard};
use crate::tracker;
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicU64, Ordering};
use pyusage_record::raw::{tag, Ending, Via};

/// Hash of the last `sys.prefix` recorded (0: none yet).
static LAST_PREFIX: AtomicU64 = AtomicU64::new(0);

/// The hook registered with `PySys_AddAuditHook`.
pub unsafe extern "C" fn audit_hook(
    event: *const c_char,
    args: *mut PyObject,
    _user: *mut c_void,
) -> c_int {
    let name = sys::cstr(event);
    match name {
        b"open" => {
            let _errno = ErrnoGuard::new();
            // SAFETY: CPython calls audit hooks with the GIL (or a thread state) and a tuple.
            if let Some(path) = unsafe { str_arg(args, 0) } {
                if path.ends_with(b".py") || path.ends_with(b".pyc") {
                    tracker::note_path(path, Via::Import);
                }
            }
        }
        b"import" => {
            let _errno = ErrnoGuard::new();
            on_import();
            // SAFETY: as above; argument 1 is the file name of an extension module, or None.
            if let Some(file) = unsafe { str_arg(args, 1) } {
                tracker::note_path(file, Via::Extension);
            }
            crate::native::scan_new();
        }
        b"os.exec" => tracker::finish(Ending::Exec, 0, false),
        _ => {}
    }
    0
}

unsafe fn str_arg<'a>(args: *mut PyObject, i: isize) -> Option<&'a [u8]> {
    let api = globals::get().api?;
    // SAFETY: the caller's contract (inside an audit hook).
    unsafe { api.str_item(args, i) }
}

/// The first import makes the record (a fork child waits for something new)
/// and follows `sys.prefix`: the interpreter sets it before the first import,
/// and `site` changes it afterwards in a virtualenv. The renderer takes the
/// last one recorded.
fn on_import() {
    let g = globals::get();
    if g.forked_from == 0 {
        tracker::ensure();
    }
    let Some(api) = g.api else { return };
    // SAFETY: inside an audit hook, with a thread state.
    let Some(prefix) = (unsafe { api.sys_str(c"prefix") }).filter(|p| !p.is_empty()) else {
        return;
    };
    let h = crate::seen::hash(b'p', prefix);
    if LAST_PREFIX.swap(h, Ordering::Relaxed) != h {
        tracker::append(tag::PY_PREFIX, &[prefix]);
    }
    if !crate::stdlib::known() {
        // SAFETY: as above.
        if let Some(base) = unsafe { api.sys_str(c"base_prefix") } {
            crate::stdlib::set_base_prefix(base);
        }
    }
}
