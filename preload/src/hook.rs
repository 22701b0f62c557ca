//! The PEP 578 audit hook: CPython calls it for every audited event, in
//! every thread, so it does a byte compare on the event name and returns
//! unless the event is one of the five it cares about.
//!
//! - `exec`: the import system runs every module's code with `exec`, and the
//!   event carries the code object. Its `co_filename` is the module's source
//!   path: resolve it, record the distribution (`via = import`). Only code
//!   that runs counts: a module file merely opened, read, copied or compiled
//!   (`linecache`, `shutil.copy`, `compileall`, `pip`) never gets here.
//! - `open` of a sourceless `mod.pyc`: only remembered, for its code, whose
//!   `co_filename` names the place it was compiled ([`crate::lastopen`]).
//! - `cpython.run_file`: the script (`python prog.py`), kept like a module.
//! - `import`: the first one creates the record; one carrying a file name is an
//!   extension module (`via = extension`); any import may have loaded native
//!   libraries, so walk those that are new.
//! - `os.exec`: the process image is about to be replaced: ship as `exec`.
//!
//! The hook never raises: it always returns 0, so it can never make an
//! operation fail. It keeps no state of its own: it reads the event's
//! arguments and tells the [`tracker`], which owns the record.

use crate::cpython::PyObject;
use crate::globals;
use crate::sys::{self, ErrnoGuard};
use crate::tracker;
use core::ffi::{c_char, c_int, c_void};
use pyusage_record::raw::{Ending, Via};

/// The hook registered with `PySys_AddAuditHook`.
pub unsafe extern "C" fn audit_hook(
    event: *const c_char,
    args: *mut PyObject,
    _user: *mut c_void,
) -> c_int {
    tracker::resume_after_failed_exec();
    // SAFETY: CPython passes the event name as a C string valid for the call.
    let name = unsafe { sys::cstr(event) };
    match name {
        b"exec" => {
            let _errno = ErrnoGuard::new();
            // SAFETY: CPython calls audit hooks with a thread state and a tuple;
            // argument 0 is the code object (or a string) about to run.
            unsafe { on_exec(args) };
        }
        b"open" => {
            // SAFETY: as above; argument 0 is the path (str, bytes or an fd).
            if let Some(path) = unsafe { str_arg(args, 0) } {
                crate::lastopen::set(path);
            }
        }
        b"cpython.run_file" => {
            let _errno = ErrnoGuard::new();
            // SAFETY: as above; argument 0 is the script's file name.
            if let Some(path) = unsafe { str_arg(args, 0) } {
                tracker::note_ran(path, Via::Import, false);
            }
        }
        b"import" => {
            let _errno = ErrnoGuard::new();
            crate::lastopen::clear();
            on_import();
            // SAFETY: as above; argument 1 is the file name of an extension module, or None.
            if let Some(file) = unsafe { str_arg(args, 1) } {
                tracker::note_ran(file, Via::Extension, false);
            }
            tracker::note_new_libraries();
        }
        b"os.exec" => tracker::finish(Ending::Exec, 0, false),
        _ => {}
    }
    0
}

/// Code about to run: a module's, if its file says so (`<frozen ...>` and
/// `<string>` are not files).
///
/// # Safety
/// Inside the audit hook, `args` being the `exec` event's tuple.
unsafe fn on_exec(args: *mut PyObject) {
    let Some(api) = globals::get().api else {
        return;
    };
    let (Some(size), Some(get)) = (api.tuple_size, api.tuple_get_item) else {
        return;
    };
    // SAFETY: the caller's contract: a tuple with the code in item 0,
    // borrowed for the duration of the hook.
    let code = unsafe {
        if args.is_null() || size(args) < 1 {
            return;
        }
        get(args, 0)
    };
    // SAFETY: `code` is live for the duration of the hook.
    let Some(file) = (unsafe { api.code_filename(code) }) else {
        return;
    };
    if file.first().is_some_and(|&c| c != b'<') {
        tracker::note_ran(file, Via::Import, true);
    }
    crate::lastopen::clear();
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
    tracker::note_prefix(prefix);
    if !crate::stdlib::known() {
        // SAFETY: as above.
        if let Some(base) = unsafe { api.sys_str(c"base_prefix") } {
            crate::stdlib::set_base_prefix(base);
        }
    }
}
