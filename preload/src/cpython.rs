//! The few CPython entry points the tracer uses, found at run time.
//!
//! Nothing links against libpython: the library is loaded into every process,
//! most of which have no Python at all. The symbols are looked up in the
//! loaded objects' hash tables ([`crate::elf`]), in load order like the
//! program's global scope. This finds both a shared `libpython3.X.so` and an
//! executable that exports a static libpython's symbols (Debian's
//! `/usr/bin/python3.11`, conda). It also avoids `dlsym` in the constructor,
//! which glibc 2.36 crashes on when reached by a tail call (the caller it sees
//! is ld.so itself).

use core::ffi::{c_char, c_int, c_void};

/// An opaque `PyObject`.
pub type PyObject = c_void;
/// `Py_AuditHookFunction`.
pub type AuditHook = unsafe extern "C" fn(*const c_char, *mut PyObject, *mut c_void) -> c_int;

/// `PyMemAllocatorEx`: a context and four functions.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MemAllocator {
    ctx: *mut c_void,
    malloc: *mut c_void,
    calloc: *mut c_void,
    realloc: *mut c_void,
    free: *mut c_void,
}

/// CPython's functions, resolved once in the constructor.
#[derive(Clone, Copy)]
pub struct Api {
    pub add_audit_hook: Option<unsafe extern "C" fn(AuditHook, *mut c_void) -> c_int>,
    pub get_version: Option<unsafe extern "C" fn() -> *const c_char>,
    pub is_initialized: Option<unsafe extern "C" fn() -> c_int>,
    pub tuple_size: Option<unsafe extern "C" fn(*mut PyObject) -> isize>,
    pub tuple_get_item: Option<unsafe extern "C" fn(*mut PyObject, isize) -> *mut PyObject>,
    pub object_type: Option<unsafe extern "C" fn(*mut PyObject) -> *mut PyObject>,
    pub dec_ref: Option<unsafe extern "C" fn(*mut PyObject)>,
    pub as_utf8: Option<unsafe extern "C" fn(*mut PyObject, *mut isize) -> *const c_char>,
    pub err_clear: Option<unsafe extern "C" fn()>,
    pub sys_get_object: Option<unsafe extern "C" fn(*const c_char) -> *mut PyObject>,
    pub mem_get_allocator: Option<unsafe extern "C" fn(c_int, *mut MemAllocator)>,
    pub mem_set_allocator: Option<unsafe extern "C" fn(c_int, *mut MemAllocator)>,
    pub mem_setup_debug_hooks: Option<unsafe extern "C" fn()>,
    pub get_attr_string:
        Option<unsafe extern "C" fn(*mut PyObject, *const c_char) -> *mut PyObject>,
    pub eval_get_frame: Option<unsafe extern "C" fn() -> *mut PyObject>,
    /// `PyFrame_GetBack` (3.9+; 3.8 reads the `f_back` attribute).
    pub frame_get_back: Option<unsafe extern "C" fn(*mut PyObject) -> *mut PyObject>,
    /// `PyFrame_GetCode` (3.9+; 3.8 reads the `f_code` attribute).
    pub frame_get_code: Option<unsafe extern "C" fn(*mut PyObject) -> *mut PyObject>,
    /// `&PyUnicode_Type`.
    pub unicode_type: *mut PyObject,
    /// `&PyCode_Type`.
    pub code_type: *mut PyObject,
    /// A `--with-pydebug` build (its default allocator is the debug one).
    pub debug_build: bool,
    /// PyPy's C API emulation rather than CPython.
    pub pypy: bool,
}

fn symbol(name: &core::ffi::CStr) -> *mut c_void {
    crate::elf::find(name, crate::elf::Scope::All)
        .map_or(core::ptr::null_mut(), |p| p as *mut c_void)
}

macro_rules! func {
    ($name:expr) => {{
        let p = symbol($name);
        // SAFETY: a non-null symbol of that name is CPython's function with the
        // signature declared in `Api`, stable across 3.8 to 3.13.
        (!p.is_null()).then(|| unsafe { core::mem::transmute::<*mut c_void, _>(p) })
    }};
}

/// True if this process has a Python in it: CPython (a shared libpython, or an
/// executable that exports a static one's symbols), or PyPy (whose program
/// name says so, confirmed by its runtime's symbol).
///
/// This is the only work a non-Python process does: a bloom-filter probe in
/// each loaded object's hash table.
#[inline(never)]
pub fn find_python(argv0: &[u8]) -> bool {
    let program = argv0.rsplit(|&c| c == b'/').next().unwrap_or(argv0);
    !symbol(c"Py_Initialize").is_null()
        || (program.starts_with(b"pypy") && !symbol(c"pypy_setup_home").is_null())
}

/// Resolves the API in a process known to have CPython.
#[inline(never)]
pub fn resolve() -> Api {
    Api {
        add_audit_hook: func!(c"PySys_AddAuditHook"),
        get_version: func!(c"Py_GetVersion").or(func!(c"PyPy_GetVersion")),
        is_initialized: func!(c"Py_IsInitialized"),
        tuple_size: func!(c"PyTuple_Size"),
        tuple_get_item: func!(c"PyTuple_GetItem"),
        object_type: func!(c"PyObject_Type"),
        dec_ref: func!(c"Py_DecRef"),
        as_utf8: func!(c"PyUnicode_AsUTF8AndSize"),
        err_clear: func!(c"PyErr_Clear"),
        sys_get_object: func!(c"PySys_GetObject"),
        mem_get_allocator: func!(c"PyMem_GetAllocator"),
        mem_set_allocator: func!(c"PyMem_SetAllocator"),
        mem_setup_debug_hooks: func!(c"PyMem_SetupDebugHooks"),
        get_attr_string: func!(c"PyObject_GetAttrString"),
        eval_get_frame: func!(c"PyEval_GetFrame"),
        frame_get_back: func!(c"PyFrame_GetBack"),
        frame_get_code: func!(c"PyFrame_GetCode"),
        unicode_type: symbol(c"PyUnicode_Type"),
        code_type: symbol(c"PyCode_Type"),
        debug_build: !symbol(c"_Py_NegativeRefcount").is_null(),
        pypy: !symbol(c"pypy_setup_home").is_null(),
    }
}

impl Api {
    /// True if everything the audit hook needs is present.
    pub fn hook_ready(&self) -> bool {
        self.add_audit_hook.is_some()
            && self.tuple_size.is_some()
            && self.tuple_get_item.is_some()
            && self.object_type.is_some()
            && self.dec_ref.is_some()
            && self.as_utf8.is_some()
            && self.err_clear.is_some()
            && !self.unicode_type.is_null()
            && !self.pypy
    }

    /// Registers `hook` before `Py_Initialize` in a process that will run
    /// with CPython's debug allocator.
    ///
    /// `PySys_AddAuditHook` allocates its list entry with the raw allocator in
    /// force (plain `malloc` before initialisation), and finalisation frees it
    /// with the raw allocator in force then: the debug one, which checks the
    /// header it expects before every block and aborts the process when it is
    /// missing. So the entry is allocated through CPython's own debug hooks,
    /// installed for this one call and removed again at once; the debug
    /// allocator CPython installs during initialisation wraps the same
    /// `malloc`, and frees the entry cleanly. Only for processes certain to
    /// use the debug allocator: anyone else would `free` a pointer into the
    /// middle of a block.
    ///
    /// # Safety
    /// Before `Py_Initialize`, with no other thread in CPython.
    pub unsafe fn add_audit_hook_debug_allocated(&self, hook: AuditHook) -> bool {
        let (Some(add), Some(get), Some(set), Some(setup)) = (
            self.add_audit_hook,
            self.mem_get_allocator,
            self.mem_set_allocator,
            self.mem_setup_debug_hooks,
        ) else {
            return false;
        };
        let empty = MemAllocator {
            ctx: core::ptr::null_mut(),
            malloc: core::ptr::null_mut(),
            calloc: core::ptr::null_mut(),
            realloc: core::ptr::null_mut(),
            free: core::ptr::null_mut(),
        };
        let mut saved = [empty; 3];
        // SAFETY: the caller's contract; domains 0..3 are RAW, MEM and OBJ, and
        // these are CPython's documented pre-initialisation allocator calls.
        unsafe {
            for (domain, slot) in saved.iter_mut().enumerate() {
                get(domain as c_int, slot);
            }
            setup();
            let added = add(hook, core::ptr::null_mut()) == 0;
            for (domain, slot) in saved.iter_mut().enumerate() {
                set(domain as c_int, slot);
            }
            added
        }
    }

    /// Item `i` of `tuple` as UTF-8 bytes if it is exactly a `str`.
    ///
    /// # Safety
    /// The caller holds the GIL (or is in an audit hook) and `tuple` is a tuple.
    pub unsafe fn str_item<'a>(&self, tuple: *mut PyObject, i: isize) -> Option<&'a [u8]> {
        let (size, get, ty, dec, utf8, clear) = (
            self.tuple_size?,
            self.tuple_get_item?,
            self.object_type?,
            self.dec_ref?,
            self.as_utf8?,
            self.err_clear?,
        );
        // SAFETY: the caller's contract; each call is CPython's own API used as documented.
        unsafe {
            if tuple.is_null() || size(tuple) <= i {
                return None;
            }
            self.str_value(get(tuple, i), ty, dec, utf8, clear)
        }
    }

    /// The `co_filename` of `code` as UTF-8 bytes, if `code` is exactly a
    /// code object (the `exec` audit event's argument may also be a string).
    ///
    /// # Safety
    /// As for [`Api::str_item`]; `code` is a live object (or null) that
    /// outlives the use of the returned bytes.
    pub unsafe fn code_filename<'a>(&self, code: *mut PyObject) -> Option<&'a [u8]> {
        let (ty, dec, getattr, clear) = (
            self.object_type?,
            self.dec_ref?,
            self.get_attr_string?,
            self.err_clear?,
        );
        if code.is_null() || self.code_type.is_null() {
            return None;
        }
        // SAFETY: the caller's contract; PyObject_Type returns a new reference,
        // dropped at once (the type outlives the object).
        let is_code = unsafe {
            let t = ty(code);
            dec(t);
            t == self.code_type
        };
        if !is_code {
            return None;
        }
        // SAFETY: a code object's `co_filename` is a member holding a str; the
        // new reference is dropped after reading, and the code object keeps
        // the string (and its cached UTF-8) alive for the caller.
        unsafe {
            let name = getattr(code, c"co_filename".as_ptr());
            if name.is_null() {
                clear();
                return None;
            }
            let s = self.str_value(name, ty, dec, self.as_utf8?, clear);
            dec(name);
            s
        }
    }

    /// Calls `visit` with the `co_filename` of each frame of the running
    /// thread, innermost first, until it returns false; at most `limit` frames.
    ///
    /// # Safety
    /// Inside an audit hook (the thread holds the GIL or a thread state).
    pub unsafe fn walk_frames(&self, limit: usize, mut visit: impl FnMut(&[u8]) -> bool) {
        let (Some(current), Some(dec), Some(getattr), Some(clear)) = (
            self.eval_get_frame,
            self.dec_ref,
            self.get_attr_string,
            self.err_clear,
        ) else {
            return;
        };
        // Borrowed reference to the innermost frame; every later frame is a
        // new reference, released when the walk moves on.
        // SAFETY: the caller's contract.
        let mut frame = unsafe { current() };
        let mut owned = false;
        for _ in 0..limit {
            if frame.is_null() {
                break;
            }
            // SAFETY: `frame` is a live frame object; the code is a new reference.
            let code = unsafe {
                match self.frame_get_code {
                    Some(get) => get(frame),
                    None => getattr(frame, c"f_code".as_ptr()),
                }
            };
            let go_on = if code.is_null() {
                // SAFETY: clears the error this walk's own call raised.
                unsafe { clear() };
                false
            } else {
                // SAFETY: `code` is live until the dec_ref below.
                let go_on = match unsafe { self.code_filename(code) } {
                    Some(name) => visit(name),
                    None => true,
                };
                // SAFETY: releases the new reference taken above.
                unsafe { dec(code) };
                go_on
            };
            let back = if go_on {
                // SAFETY: `frame` is live; the result is a new reference or
                // null (3.9+), or a new reference to the back frame or None (3.8).
                unsafe {
                    match self.frame_get_back {
                        Some(get) => get(frame),
                        None => getattr(frame, c"f_back".as_ptr()),
                    }
                }
            } else {
                core::ptr::null_mut()
            };
            if owned {
                // SAFETY: a frame this walk took a reference to.
                unsafe { dec(frame) };
            }
            if back.is_null() {
                // SAFETY: PyFrame_GetBack raises nothing; a failed getattr
                // leaves an error this walk must clear.
                unsafe { clear() };
                return;
            }
            frame = back;
            owned = true;
            // 3.8's `f_back` of the outermost frame is None, which has no
            // `f_code`: the next round's getattr fails and ends the walk.
        }
        if owned && !frame.is_null() {
            // SAFETY: the last reference this walk took.
            unsafe { dec(frame) };
        }
    }

    /// `sys.<name>` as UTF-8 bytes if it is a `str`.
    ///
    /// # Safety
    /// As for [`Api::str_item`].
    pub unsafe fn sys_str<'a>(&self, name: &core::ffi::CStr) -> Option<&'a [u8]> {
        let get = self.sys_get_object?;
        // SAFETY: the caller's contract; PySys_GetObject returns a borrowed reference.
        unsafe {
            self.str_value(
                get(name.as_ptr()),
                self.object_type?,
                self.dec_ref?,
                self.as_utf8?,
                self.err_clear?,
            )
        }
    }

    unsafe fn str_value<'a>(
        &self,
        obj: *mut PyObject,
        ty: unsafe extern "C" fn(*mut PyObject) -> *mut PyObject,
        dec: unsafe extern "C" fn(*mut PyObject),
        utf8: unsafe extern "C" fn(*mut PyObject, *mut isize) -> *const c_char,
        clear: unsafe extern "C" fn(),
    ) -> Option<&'a [u8]> {
        if obj.is_null() {
            return None;
        }
        // SAFETY: obj is a live borrowed object; PyObject_Type returns a new
        // reference that we drop at once (the type outlives the object).
        let is_str = unsafe {
            let t = ty(obj);
            dec(t);
            t == self.unicode_type
        };
        if !is_str {
            return None;
        }
        let mut len: isize = 0;
        // SAFETY: obj is a str; the UTF-8 buffer is cached in the object and
        // lives as long as it does, which covers our use within the hook.
        let p = unsafe { utf8(obj, &mut len) };
        if p.is_null() {
            // Lone surrogates (undecodable file names): not a path we can map.
            // SAFETY: the error is the one this call just raised.
            unsafe { clear() };
            return None;
        }
        // SAFETY: CPython guarantees `len` bytes at `p`.
        Some(unsafe { core::slice::from_raw_parts(p as *const u8, len as usize) })
    }
}
