//! Sending a rendered record to syslog, without ever waiting.
//!
//! The record goes as RFC 5424 messages, one per chunk
//! (`pyusage_record::syslog` has the format), to the local datagram socket
//! (`/dev/log` by default), or to `udp://IPv4:PORT` or `tcp://IPv4:PORT`
//! (octet-counted framing, RFC 6587). The socket is non-blocking and every
//! send carries `MSG_DONTWAIT`: a full socket buffer or a daemon that is
//! gone makes the send fail at once, and the caller then leaves the raw
//! record on tmpfs for `pyusage sweep`. A TCP connection that is not
//! established within [`TCP_CONNECT_MS`] counts as a failure too. No
//! allocation (one message is built in a stack buffer), no thread, no
//! signal handler: `MSG_NOSIGNAL` keeps a closed connection from raising
//! SIGPIPE.

use crate::syscall;
use pyusage_record::config::{parse_ipv4_port, Config};
use pyusage_record::syslog::{checksum, chunk_count, message, MAX_MESSAGE_BYTES};

/// Longest wait for a TCP connection to a collector (the only wait there is).
const TCP_CONNECT_MS: i32 = 20;

/// An open socket, closed on drop.
struct Socket(i32);

impl Drop for Socket {
    fn drop(&mut self) {
        syscall::close(self.0);
    }
}

/// Connects to the configured target; `Some((socket, is_tcp))`.
fn connect(target: &[u8]) -> Option<(Socket, bool)> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    if target.first() == Some(&b'/') {
        // struct sockaddr_un: family, then the path (NUL-terminated).
        let mut addr = [0u8; 110];
        addr[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        if target.len() >= addr.len() - 2 {
            return None;
        }
        addr[2..2 + target.len()].copy_from_slice(target);
        let s = Socket(syscall::socket(libc::AF_UNIX, libc::SOCK_DGRAM | flags));
        // SAFETY: addr is a complete sockaddr_un of the length given.
        let ok =
            s.0 >= 0 && unsafe { syscall::connect(s.0, addr.as_ptr(), addr.len() as u32) } == 0;
        return ok.then_some((s, false));
    }
    let tcp = target.starts_with(b"tcp://");
    if !tcp && !target.starts_with(b"udp://") {
        return None;
    }
    let (ip, port) = parse_ipv4_port(&target[6..])?;
    // struct sockaddr_in: family, port (network order), address, padding.
    let mut addr = [0u8; 16];
    addr[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    addr[2..4].copy_from_slice(&port.to_be_bytes());
    addr[4..8].copy_from_slice(&ip);
    let kind = if tcp {
        libc::SOCK_STREAM
    } else {
        libc::SOCK_DGRAM
    };
    let s = Socket(syscall::socket(libc::AF_INET, kind | flags));
    if s.0 < 0 {
        return None;
    }
    // SAFETY: addr is a complete sockaddr_in.
    let r = unsafe { syscall::connect(s.0, addr.as_ptr(), addr.len() as u32) };
    let connected =
        r == 0 || (tcp && r == -libc::EINPROGRESS && syscall::wait_writable(s.0, TCP_CONNECT_MS));
    connected.then_some((s, tcp))
}

/// Sends `json` (one record, without its newline) as syslog messages. False
/// if any message could not be sent at once; the raw record then stays.
pub fn send(config: &Config, pid: u32, id_hex: &[u8; 32], json: &[u8]) -> bool {
    let json = json.strip_suffix(b"\n").unwrap_or(json);
    let size = config.syslog_message_bytes;
    let Some(total) = chunk_count(json.len(), size) else {
        return false;
    };
    let Some((socket, tcp)) = connect(config.syslog.as_bytes()) else {
        crate::diag::debug(&[b"cannot connect to syslog at ", config.syslog.as_bytes()]);
        return false;
    };
    let sum = checksum(json);
    // Room in front for TCP's octet count ("8192 ").
    const PREFIX: usize = 6;
    let mut buf = [0u8; PREFIX + MAX_MESSAGE_BYTES as usize];
    for n in 1..=total {
        let Some(len) = message(&mut buf[PREFIX..], json, size, n, pid, id_hex, sum) else {
            return false;
        };
        let mut start = PREFIX;
        if tcp {
            let mut digits = [0u8; 20];
            let count = pyusage_record::json::decimal(len as u64, &mut digits);
            start = PREFIX - count.len() - 1;
            buf[start..start + count.len()].copy_from_slice(count);
            buf[PREFIX - 1] = b' ';
        }
        let msg = &buf[start..PREFIX + len];
        let sent = syscall::send(socket.0, msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
        if sent != msg.len() as isize {
            crate::diag::debug(&[b"syslog send failed; the record stays for the sweep"]);
            return false;
        }
    }
    true
}
