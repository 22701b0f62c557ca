//! The raw record: a fixed-size, append-only, always-consistent file on tmpfs.
//!
//! A traced process maps its record `MAP_SHARED`, so whatever it has written
//! survives `SIGKILL`, the OOM killer and walltime: the kernel keeps the pages of
//! the tmpfs file. The layout is a [`HEADER_LEN`]-byte [`Header`] followed by a
//! body of entries:
//!
//! ```text
//! | word: u32 = (len << 8) | tag | payload: len bytes | padding to 4 bytes |
//! ```
//!
//! A writer reserves space with one `fetch_add` on [`Header::reserved`], writes the
//! payload, and only then publishes the entry by storing its word (release). A
//! reader stops at the first zero word, so it never sees a half-written entry,
//! whatever instant it reads at. Several threads may append at once (free-threaded
//! CPython calls audit hooks concurrently); no locks are taken.
//!
//! Readers treat the file as hostile: [`RawRecord::parse`] checks every field and
//! bound and reports what is wrong instead of panicking.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

/// First eight bytes of a raw record, written last when the record is created.
pub const MAGIC: [u8; 8] = *b"PYUSRAW1";
/// Layout version.
pub const VERSION: u32 = 1;
/// Size of the header; the body starts here.
pub const HEADER_LEN: usize = 256;
/// Smallest record size accepted (config `record_bytes`).
pub const MIN_CAPACITY: u32 = 4096;
/// Largest record size accepted (config `record_bytes`), and the most a reader maps.
pub const MAX_CAPACITY: u32 = 16 << 20;
/// Longest payload of one entry; longer values are cut.
pub const MAX_PAYLOAD: usize = 4096;

/// Header flag: the body filled up and later entries were dropped.
pub const FLAG_TRUNCATED: u32 = 1;

/// Entry tags. Each is one ASCII byte so a hex dump of a record is readable.
pub mod tag {
    /// Executable path (`/proc/self/exe`).
    pub const EXE: u8 = b'x';
    /// Script path, `-c`, or `-m module`.
    pub const SCRIPT: u8 = b's';
    /// Interpreter version, e.g. `3.11.7`.
    pub const PY_VERSION: u8 = b'v';
    /// Interpreter implementation, e.g. `cpython`.
    pub const PY_IMPL: u8 = b'i';
    /// `sys.prefix`.
    pub const PY_PREFIX: u8 = b'p';
    /// Host name.
    pub const HOST: u8 = b'h';
    /// User name as the environment gave it.
    pub const USER: u8 = b'u';
    /// One job context field, `key=value` (see [`crate::job`]).
    pub const JOB: u8 = b'j';
    /// A resolved distribution: `via`, then `name \0 version \0 env`, and
    /// for a module the process ran, `\0 by \0 at_ms` (see [`crate::raw::Origin`]).
    pub const PACKAGE: u8 = b'P';
    /// A module path the map did not resolve: `via`, then the path, and for a
    /// module the process ran, `\0 by \0 at_ms`.
    pub const UNMAPPED: u8 = b'U';
    /// The notebook a Jupyter kernel runs (`JPY_SESSION_NAME`).
    pub const NOTEBOOK: u8 = b'n';
    /// A native library of interest: kind byte (see [`crate::raw::native`]), then file name.
    pub const NATIVE: u8 = b'N';
}

/// How a module or library was seen (first payload byte of `PACKAGE`/`UNMAPPED`).
/// Ordered from weakest to strongest evidence of use (see [`Via::strength`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A native library mapped into the process.
    Library = b'l' as isize,
    /// An extension module imported by Python.
    Extension = b'e' as isize,
    /// A Python module file read by the import system.
    Import = b'i' as isize,
}

impl Via {
    /// Weakest (a library merely mapped) to strongest (Python code imported).
    pub fn strength(self) -> u8 {
        match self {
            Via::Library => 0,
            Via::Extension => 1,
            Via::Import => 2,
        }
    }
    /// The byte stored in the record.
    pub fn byte(self) -> u8 {
        self as u8
    }
    /// Parses the stored byte.
    pub fn from_byte(b: u8) -> Option<Via> {
        match b {
            b'l' => Some(Via::Library),
            b'e' => Some(Via::Extension),
            b'i' => Some(Via::Import),
            _ => None,
        }
    }
    /// The name used in the shipped record.
    pub fn name(self) -> &'static str {
        match self {
            Via::Library => "library",
            Via::Extension => "extension",
            Via::Import => "import",
        }
    }
}

/// Kinds of native library flagged in the record (first payload byte of `NATIVE`).
pub mod native {
    /// CUDA driver or runtime, cuDNN, NCCL, cuBLAS.
    pub const CUDA: u8 = b'c';
    /// An MPI library.
    pub const MPI: u8 = b'm';
    /// A BLAS/LAPACK implementation.
    pub const BLAS: u8 = b'b';

    /// Classifies a library file name (`libcudart.so.12` -> [`CUDA`]).
    pub fn classify(file_name: &[u8]) -> Option<u8> {
        const CUDA_NAMES: [&[u8]; 7] = [
            b"libcuda.so",
            b"libcudart",
            b"libcublas",
            b"libcudnn",
            b"libnccl",
            b"libnvrtc",
            b"libcufft",
        ];
        const MPI_NAMES: [&[u8]; 5] = [
            b"libmpi.",
            b"libmpi_",
            b"libmpich",
            b"libmpifort",
            b"libfabric",
        ];
        const BLAS_NAMES: [&[u8]; 6] = [
            b"libopenblas",
            b"libmkl_",
            b"libblis",
            b"libflexiblas",
            b"libblas",
            b"libscipy_openblas",
        ];
        let starts = |set: &[&[u8]]| set.iter().any(|p| file_name.starts_with(p));
        if starts(&CUDA_NAMES) {
            Some(CUDA)
        } else if starts(&MPI_NAMES) {
            Some(MPI)
        } else if starts(&BLAS_NAMES) {
            Some(BLAS)
        } else {
            None
        }
    }
}

/// How a process ended, as stored in [`Header::ended_how`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Still running (or vanished without a trace of its end).
    Running = 0,
    /// `exit()`, including return from `main` and uncaught exceptions.
    Exit = 1,
    /// `_exit()` (`os._exit`).
    UnderscoreExit = 2,
    /// Replaced by `exec`.
    Exec = 3,
    /// Killed by a signal that was observed.
    Signal = 4,
    /// Gone without a word; finished by `pyusage sweep`.
    Vanished = 5,
}

impl Ending {
    /// Parses the stored value.
    pub fn from_u32(v: u32) -> Option<Ending> {
        Some(match v {
            0 => Ending::Running,
            1 => Ending::Exit,
            2 => Ending::UnderscoreExit,
            3 => Ending::Exec,
            4 => Ending::Signal,
            5 => Ending::Vanished,
            _ => return None,
        })
    }
    /// The `ended.how` string of the shipped record.
    pub fn name(self) -> &'static str {
        match self {
            Ending::Running | Ending::Vanished => "vanished",
            Ending::Exit => "exit",
            Ending::UnderscoreExit => "_exit",
            Ending::Exec => "exec",
            Ending::Signal => "signal",
        }
    }
}

/// The header at offset 0. All multi-byte fields are native-endian: a record
/// never leaves the node that wrote it.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`], stored last at creation.
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// Total file size in bytes, header included.
    pub capacity: u32,
    /// Body bytes reserved so far (offset of the next entry within the body).
    pub reserved: AtomicU32,
    /// [`FLAG_TRUNCATED`] and future flags.
    pub flags: AtomicU32,
    /// Fork children that inherited this record.
    pub forks: AtomicU32,
    /// 1 once the process has shipped the record itself.
    pub shipped: AtomicU32,
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Parent pid if this is a fork child's record, else 0.
    pub forked_from: u32,
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// Process start time in clock ticks since boot (`/proc/PID/stat` field 22):
    /// with the pid it identifies the process, so a reused pid is never mistaken
    /// for the writer.
    pub proc_start_ticks: u64,
    /// Wall-clock end, nanoseconds since the Unix epoch (0 while running).
    pub end_ns: AtomicU64,
    /// [`Ending`] as u32.
    pub ended_how: AtomicU32,
    /// Exit status for `exit`/`_exit`.
    pub ended_status: AtomicI32,
    /// Signal number for [`Ending::Signal`].
    pub ended_signal: AtomicI32,
    /// Sampling probability in parts per million.
    pub sample_ppm: u32,
    /// Record id (random), shown as 32 hex digits.
    pub id: [u8; 16],
    _reserved: [u8; HEADER_LEN - 104],
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_LEN);

/// Fixed facts written into a new record's header.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Parent pid for a fork child's record, else 0.
    pub forked_from: u32,
    /// Wall-clock start, ns since the epoch.
    pub start_ns: u64,
    /// `/proc/self/stat` start time in ticks.
    pub proc_start_ticks: u64,
    /// Sampling probability in ppm.
    pub sample_ppm: u32,
    /// Random record id.
    pub id: [u8; 16],
}

/// Writes into a mapped raw record. Cheap to copy; all methods take `&self`
/// and are safe to call from several threads at once.
#[derive(Clone, Copy)]
pub struct Writer {
    base: *mut u8,
    capacity: u32,
}

// SAFETY: all shared mutation goes through atomics or through body ranges that
// one `fetch_add` handed to exactly one writer.
unsafe impl Send for Writer {}
// SAFETY: as above.
unsafe impl Sync for Writer {}

impl Writer {
    /// Initialises a zero-filled mapping as a new record and returns its writer.
    ///
    /// # Safety
    /// `base` must point to `capacity` writable bytes, zero-filled, 8-byte
    /// aligned (a fresh `mmap` of a `posix_fallocate`d file is), that stay mapped
    /// for as long as the writer is used. `capacity` must lie within
    /// [`MIN_CAPACITY`]..=[`MAX_CAPACITY`].
    pub unsafe fn create(base: *mut u8, capacity: u32, who: &Identity) -> Writer {
        let h = base as *mut Header;
        // SAFETY: the caller guarantees `base` is valid, aligned and unshared
        // until the magic below is published.
        unsafe {
            (*h).version = VERSION;
            (*h).capacity = capacity;
            (*h).pid = who.pid;
            (*h).ppid = who.ppid;
            (*h).uid = who.uid;
            (*h).forked_from = who.forked_from;
            (*h).start_ns = who.start_ns;
            (*h).proc_start_ticks = who.proc_start_ticks;
            (*h).sample_ppm = who.sample_ppm;
            (*h).id = who.id;
            core::sync::atomic::fence(Ordering::Release);
            core::ptr::write_volatile(core::ptr::addr_of_mut!((*h).magic), MAGIC);
        }
        Writer { base, capacity }
    }

    /// Wraps a record that [`Writer::create`] initialised earlier (in this
    /// process), without touching it.
    ///
    /// # Safety
    /// As for [`Writer::create`], and the header must already be initialised.
    pub unsafe fn attach(base: *mut u8, capacity: u32) -> Writer {
        Writer { base, capacity }
    }

    fn header(&self) -> &Header {
        // SAFETY: `create` established a valid, aligned header that stays mapped.
        unsafe { &*(self.base as *const Header) }
    }

    /// Base address of the mapping.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Size of the mapping.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Appends one entry made of the concatenated `parts`; cuts the payload at
    /// [`MAX_PAYLOAD`]. Returns false (and marks the record truncated) when full.
    pub fn append(&self, tag: u8, parts: &[&[u8]]) -> bool {
        let len = parts
            .iter()
            .map(|p| p.len())
            .sum::<usize>()
            .min(MAX_PAYLOAD);
        let total = (4 + len + 3) & !3;
        let body_cap = self.capacity as usize - HEADER_LEN;
        let h = self.header();
        if h.reserved.load(Ordering::Relaxed) as usize + total > body_cap {
            h.flags.fetch_or(FLAG_TRUNCATED, Ordering::Relaxed);
            return false;
        }
        let off = h.reserved.fetch_add(total as u32, Ordering::Relaxed) as usize;
        if off + total > body_cap {
            h.flags.fetch_or(FLAG_TRUNCATED, Ordering::Relaxed);
            return false;
        }
        // SAFETY: [off, off + total) of the body was reserved for this call alone
        // by the fetch_add above and lies within the mapping (checked).
        unsafe {
            let entry = self.base.add(HEADER_LEN + off);
            let mut at = 4;
            for part in parts {
                let n = part.len().min(len + 4 - at);
                core::ptr::copy_nonoverlapping(part.as_ptr(), entry.add(at), n);
                at += n;
            }
            let word = &*(entry as *const AtomicU32);
            word.store(((len as u32) << 8) | tag as u32, Ordering::Release);
        }
        true
    }

    /// Counts a fork child that inherited this record.
    pub fn count_fork(&self) {
        self.header().forks.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores how the process ended.
    pub fn set_ending(&self, how: Ending, status: i32, signal: i32, end_ns: u64) {
        let h = self.header();
        h.ended_status.store(status, Ordering::Relaxed);
        h.ended_signal.store(signal, Ordering::Relaxed);
        h.end_ns.store(end_ns, Ordering::Relaxed);
        h.ended_how.store(how as u32, Ordering::Release);
    }

    /// Marks the record as shipped by its own process.
    pub fn mark_shipped(&self) {
        self.header().shipped.store(1, Ordering::Release);
    }

    /// Undoes [`Writer::set_ending`] and [`Writer::mark_shipped`]: the process
    /// goes on after all (an `exec` that failed).
    pub fn reopen(&self) {
        let h = self.header();
        h.ended_how.store(Ending::Running as u32, Ordering::Release);
        h.end_ns.store(0, Ordering::Relaxed);
        h.shipped.store(0, Ordering::Release);
    }

    /// A read-only view of the record as it stands now.
    pub fn view(&self) -> RawRecord<'_> {
        // SAFETY: the mapping is `capacity` bytes long and stays mapped while
        // `self` is borrowed. Concurrent appends only write beyond `reserved`
        // or publish words atomically, which the parser tolerates.
        let bytes =
            unsafe { core::slice::from_raw_parts(self.base as *const u8, self.capacity as usize) };
        match RawRecord::parse(bytes) {
            Ok(r) => r,
            // Unreachable for a record this writer created; an empty view is
            // the harmless answer if it ever happens.
            Err(_) => RawRecord::empty(),
        }
    }
}

/// Why a file is not a readable raw record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawError {
    /// Shorter than a header.
    TooShort,
    /// Magic missing: foreign file, or its creator died before finishing it.
    BadMagic,
    /// A layout version this build does not know.
    BadVersion(u32),
    /// The header's capacity disagrees with the file or is out of range.
    BadCapacity(u32),
}

impl core::fmt::Display for RawError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RawError::TooShort => write!(f, "file is shorter than a record header"),
            RawError::BadMagic => write!(f, "not a pyusage raw record (bad magic)"),
            RawError::BadVersion(v) => write!(f, "unknown raw record version {v}"),
            RawError::BadCapacity(c) => write!(f, "header capacity {c} does not match the file"),
        }
    }
}

impl core::error::Error for RawError {}

/// A parsed snapshot of a raw record's header plus its body, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct RawRecord<'a> {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// User id written by the process (readers may override with the file owner).
    pub uid: u32,
    /// Parent pid if a fork child's record, else 0.
    pub forked_from: u32,
    /// Start, ns since the epoch.
    pub start_ns: u64,
    /// Start in clock ticks since boot.
    pub proc_start_ticks: u64,
    /// End, ns since the epoch (0 if not ended).
    pub end_ns: u64,
    /// How it ended, as far as the record knows.
    pub ending: Ending,
    /// Exit status.
    pub status: i32,
    /// Signal number.
    pub signal: i32,
    /// Fork children counted.
    pub forks: u32,
    /// Flags ([`FLAG_TRUNCATED`]).
    pub flags: u32,
    /// True once its own process shipped it.
    pub shipped: bool,
    /// Sampling probability in ppm.
    pub sample_ppm: u32,
    /// Record id.
    pub id: [u8; 16],
    body: &'a [u8],
    reserved: u32,
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// An entry word, loaded with Acquire: on a live record the writer
/// publishes it with Release after its payload, so the payload is seen
/// whole (a plain load may see the word first on aarch64).
fn read_entry_word(b: &[u8], at: usize) -> u32 {
    let word = &b[at..at + 4];
    let ptr = word.as_ptr();
    if ptr.align_offset(core::mem::align_of::<AtomicU32>()) == 0 {
        // SAFETY: four readable, aligned bytes inside `b`; a concurrent
        // writer only ever stores this word atomically.
        unsafe { AtomicU32::from_ptr(ptr as *mut u32).load(Ordering::Acquire) }
    } else {
        // Only a copy in memory (a file read by the sweep) can be unaligned,
        // and nobody writes to that.
        read_u32(b, at)
    }
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

impl<'a> RawRecord<'a> {
    fn empty() -> RawRecord<'static> {
        RawRecord {
            pid: 0,
            ppid: 0,
            uid: 0,
            forked_from: 0,
            start_ns: 0,
            proc_start_ticks: 0,
            end_ns: 0,
            ending: Ending::Running,
            status: 0,
            signal: 0,
            forks: 0,
            flags: 0,
            shipped: false,
            sample_ppm: 0,
            id: [0; 16],
            body: &[],
            reserved: 0,
        }
    }

    /// Parses a record from its bytes (the whole file). Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<RawRecord<'a>, RawError> {
        if bytes.len() < HEADER_LEN {
            return Err(RawError::TooShort);
        }
        if bytes[..8] != MAGIC {
            return Err(RawError::BadMagic);
        }
        let version = read_u32(bytes, 8);
        if version != VERSION {
            return Err(RawError::BadVersion(version));
        }
        let capacity = read_u32(bytes, 12);
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) || capacity as usize != bytes.len() {
            return Err(RawError::BadCapacity(capacity));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[88..104]);
        Ok(RawRecord {
            reserved: read_u32(bytes, 16),
            flags: read_u32(bytes, 20),
            forks: read_u32(bytes, 24),
            shipped: read_u32(bytes, 28) != 0,
            pid: read_u32(bytes, 32),
            ppid: read_u32(bytes, 36),
            uid: read_u32(bytes, 40),
            forked_from: read_u32(bytes, 44),
            start_ns: read_u64(bytes, 48),
            proc_start_ticks: read_u64(bytes, 56),
            end_ns: read_u64(bytes, 64),
            ending: Ending::from_u32(read_u32(bytes, 72)).unwrap_or(Ending::Running),
            status: read_u32(bytes, 76) as i32,
            signal: read_u32(bytes, 80) as i32,
            sample_ppm: read_u32(bytes, 84),
            id,
            body: &bytes[HEADER_LEN..],
        })
    }

    /// True if the body filled up.
    pub fn truncated(&self) -> bool {
        self.flags & FLAG_TRUNCATED != 0
    }

    /// The published entries, in order. Stops at the first unpublished or
    /// malformed entry.
    pub fn entries(&self) -> Entries<'a> {
        let end = (self.reserved as usize).min(self.body.len());
        Entries {
            body: &self.body[..end],
            at: 0,
        }
    }

    /// The entry that starts `at` bytes into the body (an [`Entry::at`] this
    /// record's iterator gave), if it is a published, well-formed entry.
    pub fn entry_at(&self, at: u32) -> Option<Entry<'a>> {
        let end = (self.reserved as usize).min(self.body.len());
        Entries {
            body: &self.body[..end],
            at: at as usize,
        }
        .next()
    }

    /// The first entry with `tag`, if any.
    pub fn first(&self, tag: u8) -> Option<&'a [u8]> {
        self.entries().find(|e| e.tag == tag).map(|e| e.payload)
    }

    /// The last entry with `tag`, if any (for values that may be updated).
    pub fn last(&self, tag: u8) -> Option<&'a [u8]> {
        self.entries()
            .filter(|e| e.tag == tag)
            .last()
            .map(|e| e.payload)
    }

    /// The latest `at_ms` of the record's sightings (milliseconds after
    /// `start` of an import): the last moment the record itself shows its
    /// process alive and running code. `None` when no sighting has one.
    pub fn latest_at_ms(&self) -> Option<u64> {
        self.entries()
            .filter_map(|e| match e.tag {
                tag::PACKAGE => split_package(e.payload)?.origin?.at_ms,
                tag::UNMAPPED => split_unmapped(e.payload)?.origin?.at_ms,
                _ => None,
            })
            .max()
    }

    /// The record id as 32 lowercase hex digits.
    pub fn id_hex(&self) -> [u8; 32] {
        hex16(&self.id)
    }
}

/// Formats 16 bytes as 32 lowercase hex digits.
pub fn hex16(id: &[u8; 16]) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in id.iter().enumerate() {
        out[2 * i] = DIGITS[(b >> 4) as usize];
        out[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    out
}

/// One published entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// See [`tag`].
    pub tag: u8,
    /// Where the entry starts, in bytes from the start of the body (below
    /// [`MAX_CAPACITY`], so it fits a `u32`).
    pub at: u32,
    /// The payload bytes.
    pub payload: &'a [u8],
}

/// Iterator over published entries.
pub struct Entries<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;
    fn next(&mut self) -> Option<Entry<'a>> {
        let word_end = self.at.checked_add(4)?;
        if word_end > self.body.len() {
            return None;
        }
        let word = read_entry_word(self.body, self.at);
        if word == 0 {
            return None;
        }
        let len = (word >> 8) as usize;
        let end = word_end.checked_add(len)?;
        if len > MAX_PAYLOAD || end > self.body.len() {
            self.at = self.body.len();
            return None;
        }
        let entry = Entry {
            tag: word as u8,
            at: self.at as u32,
            payload: &self.body[word_end..end],
        };
        self.at = (end + 3) & !3;
        Some(entry)
    }
}

/// A `PACKAGE` entry's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackageEntry<'a> {
    /// How it was seen.
    pub via: Via,
    /// Distribution name.
    pub name: &'a [u8],
    /// Version.
    pub version: &'a [u8],
    /// Environment label or prefix.
    pub env: &'a [u8],
    /// Who imported it first and when, for a module the process ran.
    pub origin: Option<Origin<'a>>,
}

/// Who made the first import of a distribution, and when (schema 2's `by`
/// and `at_ms`). Stored after a sighting's other fields as `\0 by \0 at_ms`,
/// `by` empty for the program's own code, `at_ms` in decimal (empty when
/// unknown). Sightings without it (native libraries, records written before
/// schema 2) render as null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The importing distribution's name; `None` for the program's own code.
    pub by: Option<&'a [u8]>,
    /// Milliseconds from the record's start to the import.
    pub at_ms: Option<u64>,
}

impl<'a> Origin<'a> {
    /// Parses the `by` and `at_ms` fields of a payload.
    fn parse(by: &'a [u8], at: &[u8]) -> Origin<'a> {
        let at_ms = (!at.is_empty() && at.len() <= 19 && at.iter().all(u8::is_ascii_digit))
            .then(|| at.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')));
        Origin {
            by: (!by.is_empty()).then_some(by),
            at_ms,
        }
    }
}

/// Splits a `PACKAGE` payload into its fields.
pub fn split_package(payload: &[u8]) -> Option<PackageEntry<'_>> {
    let (&via, rest) = payload.split_first()?;
    let via = Via::from_byte(via)?;
    let mut fields = rest.splitn(5, |&b| b == 0);
    let name = fields.next()?;
    let version = fields.next()?;
    let env = fields.next().unwrap_or(b"");
    let origin = fields
        .next()
        .map(|by| Origin::parse(by, fields.next().unwrap_or(b"")));
    if name.is_empty() {
        return None;
    }
    Some(PackageEntry {
        via,
        name,
        version,
        env,
        origin,
    })
}

/// An `UNMAPPED` entry's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmappedEntry<'a> {
    /// How it was seen.
    pub via: Via,
    /// The module path (never empty).
    pub path: &'a [u8],
    /// Who imported it first and when.
    pub origin: Option<Origin<'a>>,
}

/// Splits an `UNMAPPED` payload into its fields.
pub fn split_unmapped(payload: &[u8]) -> Option<UnmappedEntry<'_>> {
    let (&via, rest) = payload.split_first()?;
    let via = Via::from_byte(via)?;
    let mut fields = rest.splitn(3, |&b| b == 0);
    let path = fields.next().filter(|p| !p.is_empty())?;
    let origin = fields
        .next()
        .map(|by| Origin::parse(by, fields.next().unwrap_or(b"")));
    Some(UnmappedEntry { via, path, origin })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_record(buf: &mut [u64]) -> Writer {
        let cap = (buf.len() * 8) as u32;
        let who = Identity {
            pid: 7,
            ppid: 1,
            uid: 1000,
            start_ns: 5,
            id: [0xab; 16],
            ..Identity::default()
        };
        // SAFETY: buf is zeroed, aligned, and outlives the writer in each test.
        unsafe { Writer::create(buf.as_mut_ptr() as *mut u8, cap, &who) }
    }

    fn bytes(buf: &[u64]) -> &[u8] {
        // SAFETY: reinterpreting initialised u64s as bytes.
        unsafe { core::slice::from_raw_parts(buf.as_ptr() as *const u8, buf.len() * 8) }
    }

    #[test]
    fn append_then_read_back() {
        let mut buf = vec![0u64; 1024];
        let w = new_record(&mut buf);
        assert!(w.append(tag::EXE, &[b"/usr/bin/python3"]));
        assert!(w.append(
            tag::PACKAGE,
            &[b"i", b"numpy", b"\0", b"1.26.4", b"\0", b"venv"]
        ));
        w.count_fork();
        w.set_ending(Ending::Exit, 3, 0, 9);
        let r = RawRecord::parse(bytes(&buf)).unwrap();
        assert_eq!(
            (r.pid, r.ppid, r.uid, r.forks, r.status),
            (7, 1, 1000, 1, 3)
        );
        assert_eq!(r.ending, Ending::Exit);
        let e: Vec<_> = r.entries().collect();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].payload, b"/usr/bin/python3");
        let p = split_package(e[1].payload).unwrap();
        assert_eq!(
            (p.via, p.name, p.version, p.env),
            (Via::Import, &b"numpy"[..], &b"1.26.4"[..], &b"venv"[..])
        );
        assert_eq!(&r.id_hex()[..4], b"abab");
        assert_eq!(p.origin, None);
    }

    #[test]
    fn latest_import_is_the_largest_at_ms() {
        let mut buf = vec![0u64; 1024];
        let w = new_record(&mut buf);
        assert_eq!(RawRecord::parse(bytes(&buf)).unwrap().latest_at_ms(), None);
        w.append(tag::PACKAGE, &[b"lnumpy\x001.0\x00/v"]);
        w.append(tag::PACKAGE, &[b"inumpy\x001.0\x00/v\x00\x00900"]);
        w.append(tag::UNMAPPED, &[b"i/home/u/late.py\x00\x001500"]);
        w.append(tag::PACKAGE, &[b"iscipy\x001.0\x00/v\x00numpy\x0012"]);
        let r = RawRecord::parse(bytes(&buf)).unwrap();
        assert_eq!(r.latest_at_ms(), Some(1500));
    }

    #[test]
    fn origins_parse() {
        let p = split_package(b"inumpy\x001.0\x00/v\x00pandas\x0042").unwrap();
        assert_eq!(p.env, b"/v");
        assert_eq!(
            p.origin,
            Some(Origin {
                by: Some(&b"pandas"[..]),
                at_ms: Some(42)
            })
        );
        let p = split_package(b"inumpy\x001.0\x00/v\x00\x00").unwrap();
        assert_eq!(
            p.origin,
            Some(Origin {
                by: None,
                at_ms: None
            })
        );
        let p = split_package(b"inumpy\x001.0\x00/v\x00\x00-3").unwrap();
        assert_eq!(p.origin.unwrap().at_ms, None);
        let u = split_unmapped(b"i/home/u/m.py\x00\x007").unwrap();
        assert_eq!(
            (u.path, u.origin),
            (
                &b"/home/u/m.py"[..],
                Some(Origin {
                    by: None,
                    at_ms: Some(7)
                })
            )
        );
        let u = split_unmapped(b"i/home/u/m.py").unwrap();
        assert_eq!(u.origin, None);
        assert_eq!(split_unmapped(b"i"), None);
        assert_eq!(split_unmapped(b"?/x"), None);
    }

    #[test]
    fn full_record_is_marked_truncated_not_overrun() {
        let mut buf = vec![0u64; 512];
        let w = new_record(&mut buf);
        let mut n = 0;
        while w.append(tag::UNMAPPED, &[b"i", &[b'x'; 100]]) {
            n += 1;
        }
        assert!(n > 30);
        let r = RawRecord::parse(bytes(&buf)).unwrap();
        assert!(r.truncated());
        assert_eq!(r.entries().count(), n);
    }

    #[test]
    fn unpublished_entry_ends_the_body() {
        let mut buf = vec![0u64; 1024];
        let w = new_record(&mut buf);
        w.append(tag::HOST, &[b"node1"]);
        w.append(tag::HOST, &[b"node2"]);
        // Simulate a writer that died between reserving and publishing the first.
        bytes_mut(&mut buf)[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&[0; 4]);
        let r = RawRecord::parse(bytes(&buf)).unwrap();
        assert_eq!(r.entries().count(), 0);
    }

    fn bytes_mut(buf: &mut [u64]) -> &mut [u8] {
        // SAFETY: reinterpreting u64s as bytes.
        unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut u8, buf.len() * 8) }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut state = 0x2545F4914F6CDD1Du64;
        for round in 0..2000 {
            let mut buf = vec![0u64; 1024];
            let w = new_record(&mut buf);
            w.append(tag::EXE, &[b"/bin/python"]);
            let b = bytes_mut(&mut buf);
            for _ in 0..(round % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % b.len();
                b[at] = (state >> 32) as u8;
            }
            let cut = if round % 3 == 0 {
                (state as usize) % b.len()
            } else {
                b.len()
            };
            if let Ok(r) = RawRecord::parse(&b[..cut]) {
                for e in r.entries() {
                    let _ = split_package(e.payload);
                }
            }
        }
    }

    #[test]
    fn foreign_files_are_refused() {
        assert_eq!(
            RawRecord::parse(&[0u8; 10]).unwrap_err(),
            RawError::TooShort
        );
        assert_eq!(
            RawRecord::parse(&[0u8; 4096]).unwrap_err(),
            RawError::BadMagic
        );
        let mut buf = vec![0u64; 1024];
        new_record(&mut buf);
        assert!(matches!(
            RawRecord::parse(&bytes(&buf)[..4096]),
            Err(RawError::BadCapacity(_))
        ));
    }
}
