//! Process-wide state of the tracer.
//!
//! [`Globals`] is written once, by the constructor, before any other thread can
//! exist and before [`ACTIVE`] is set; from then on it is only read, except by
//! the fork-child handler (which runs while the child has a single thread).
//! Everything that changes afterwards (the record, the seen-sets) lives in
//! atomics elsewhere.

use crate::cpython::Api;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use pyusage_map_reader::PackageMap;
use pyusage_record::config::Config;

/// Set once the constructor decided to trace this process.
pub static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Small strings captured at start-up, stored inline.
pub struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    pub const fn new() -> Self {
        Text {
            buf: [0; N],
            len: 0,
        }
    }
    pub fn set(&mut self, b: &[u8]) {
        let n = b.len().min(N);
        self.buf[..n].copy_from_slice(&b[..n]);
        self.len = n;
    }
    pub fn push(&mut self, b: &[u8]) {
        let n = b.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
    pub fn get(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

pub struct Globals {
    pub api: Option<Api>,
    pub config: Option<Config>,
    pub map: Option<PackageMap<'static>>,
    /// This process's pid; updated in fork children.
    pub pid: u32,
    /// Pid of the process whose record a fork child inherited, else 0.
    pub forked_from: u32,
    pub start_ns: u64,
    /// The audit hook is registered (CPython 3.8+, not in debug-allocator mode).
    pub hooked: bool,
    /// argv[0] names a python executable (not an embedding program).
    pub looks_like_python: bool,
    pub script: Option<Text<512>>,
    pub user: Text<64>,
    /// `key=value` job entries, NUL-separated.
    pub job: Text<512>,
    /// The notebook a Jupyter kernel runs (`JPY_SESSION_NAME`, exported by
    /// the Jupyter server to the kernels it starts).
    pub notebook: Text<512>,
    pub sample_ppm: u32,
}

struct Cell(UnsafeCell<Globals>);
// SAFETY: see the module comment: written before ACTIVE is published (or in a
// single-threaded fork child), read-only otherwise.
unsafe impl Sync for Cell {}

static GLOBALS: Cell = Cell(UnsafeCell::new(Globals {
    api: None,
    config: None,
    map: None,
    pid: 0,
    forked_from: 0,
    start_ns: 0,
    hooked: false,
    looks_like_python: false,
    script: None,
    user: Text::new(),
    job: Text::new(),
    notebook: Text::new(),
    sample_ppm: 1_000_000,
}));

/// Read access.
pub fn get() -> &'static Globals {
    // SAFETY: see the module comment.
    unsafe { &*GLOBALS.0.get() }
}

/// Write access, for the constructor and the fork-child handler only.
///
/// # Safety
/// No other thread may be running tracer code.
#[allow(clippy::mut_from_ref)]
pub unsafe fn get_mut() -> &'static mut Globals {
    // SAFETY: the caller's contract.
    unsafe { &mut *GLOBALS.0.get() }
}

pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}
