//! Opening and reading metadata files relative to a site directory's open
//! descriptor (`openat`): the kernel walks `name.dist-info/RECORD` instead
//! of the whole absolute path, once per file.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, ErrorKind, Read};

use rustix::fs::{openat, Mode, OFlags};

use super::model::Site;
use super::paths;

/// Opens `rel` (relative, plain) below the site directory for reading.
pub(crate) fn open_in(site: &Site, rel: &[u8]) -> io::Result<File> {
    match &site.fd {
        Some(fd) => openat(
            &**fd,
            rel,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(io::Error::from),
        None => File::open(paths::path(&paths::join(&site.dir, rel))),
    }
}

/// Reads a whole file: into a buffer each thread keeps (no `fstat` for
/// the size, no zeroing), then copied out at its exact size.
pub(crate) fn read_all(mut f: File) -> io::Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|s| {
        let mut buf = s.borrow_mut();
        if buf.is_empty() {
            buf.resize(64 << 10, 0);
        }
        let mut len = 0;
        loop {
            if len == buf.len() {
                let n = 2 * buf.len();
                buf.resize(n, 0);
            }
            match f.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let data = buf[..len].to_vec();
        // Do not keep a buffer grown for one huge file.
        if buf.len() > 4 << 20 {
            *buf = Vec::new();
        }
        Ok(data)
    })
}

/// The first non-blank, non-comment line of a file (`INSTALLER`): usually
/// in the first read, so the file is not read to its end.
pub(crate) fn first_line(mut f: File) -> io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; 256];
    let n = loop {
        match f.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let head = &buf[..n];
    if let Some(nl) = memchr::memrchr(b'\n', head) {
        // Complete lines only: a line cut by the buffer could read differently.
        if let Some(l) = super::text::lines(&head[..nl]).next() {
            return Ok(Some(l.to_vec()));
        }
    }
    if n == 0 {
        return Ok(None);
    }
    let mut all = head.to_vec();
    f.read_to_end(&mut all)?;
    let first = super::text::lines(&all).next().map(<[u8]>::to_vec);
    Ok(first)
}
