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
    /// `&PyUnicode_Type`.
    pub unicode_type: *mut PyObject,
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
        unicode_type: symbol(c"PyUnicode_Type"),
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
