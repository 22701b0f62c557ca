//! Where records go (`sinks` in the configuration) and the syslog target,
//! as the tools read them. The tracer reads the same keys with its own
//! parser (`pyusage_record::config`).

use crate::config::Effective;
use std::fmt;
use std::time::Duration;

/// Where syslog messages go (`syslog` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    /// A local datagram socket (default `/dev/log`).
    Unix(String),
    /// `udp://host:port`.
    Udp(String),
    /// `tcp://host:port`.
    Tcp(String),
}

impl SyslogTarget {
    /// Parses `/dev/log`, `udp://host:port` or `tcp://host:port`.
    pub fn parse(s: &str) -> Result<SyslogTarget, String> {
        if let Some(addr) = s.strip_prefix("udp://") {
            Ok(SyslogTarget::Udp(addr.to_owned()))
        } else if let Some(addr) = s.strip_prefix("tcp://") {
            Ok(SyslogTarget::Tcp(addr.to_owned()))
        } else if s.starts_with('/') {
            Ok(SyslogTarget::Unix(s.to_owned()))
        } else {
            Err(format!(
                "`syslog = {s:?}`: want a socket path, udp://host:port or tcp://host:port"
            ))
        }
    }

    /// Whether a message could be sent now; what was found.
    pub fn probe(&self) -> Result<String, String> {
        match self {
            SyslogTarget::Unix(path) => {
                let s = std::os::unix::net::UnixDatagram::unbound().map_err(|e| e.to_string())?;
                s.connect(path)
                    .map_err(|e| format!("cannot connect: {e}"))?;
                Ok("socket accepts datagrams".into())
            }
            SyslogTarget::Udp(addr) => {
                let s = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
                s.connect(addr.as_str())
                    .map_err(|e| format!("cannot resolve or route: {e}"))?;
                Ok("resolves (UDP: delivery cannot be confirmed; run `pyusage canary`)".into())
            }
            SyslogTarget::Tcp(addr) => {
                use std::net::ToSocketAddrs;
                let sa = addr
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve: {e}"))?
                    .next()
                    .ok_or("resolves to no address")?;
                std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(3))
                    .map_err(|e| format!("cannot connect: {e}"))?;
                Ok("accepts connections".into())
            }
        }
    }
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyslogTarget::Unix(p) => write!(f, "{p}"),
            SyslogTarget::Udp(a) => write!(f, "udp://{a}"),
            SyslogTarget::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// Sends one message.
type Sender = dyn FnMut(&[u8]) -> std::io::Result<()>;

/// The configured sinks.
#[derive(Clone, Debug)]
pub struct Sinks {
    /// Records go to the spool directory.
    pub spool: bool,
    /// Records go to syslog.
    pub syslog: bool,
    /// Where syslog messages go.
    pub target: SyslogTarget,
    /// Size of one syslog message.
    pub message_bytes: u32,
}

impl Sinks {
    /// The sinks of the configuration in force, read by the tracer's parser.
    pub fn of(e: &Effective) -> Sinks {
        let c = &e.config;
        let target = String::from_utf8_lossy(c.syslog.as_bytes()).into_owned();
        Sinks {
            spool: c.sink_spool,
            syslog: c.sink_syslog,
            target: SyslogTarget::parse(&target).unwrap_or(SyslogTarget::Unix(target)),
            message_bytes: c.syslog_message_bytes,
        }
    }

    /// Sends one record (`json`, one line) to syslog as the tracer would,
    /// except that it waits for a full socket buffer (the sweep is not a
    /// user's process) up to a few seconds.
    pub fn send_syslog(&self, pid: u32, id_hex: &str, json: &[u8]) -> Result<(), String> {
        use pyusage_record::syslog::{checksum, chunk_count, message, MAX_MESSAGE_BYTES};
        let json = json.strip_suffix(b"\n").unwrap_or(json);
        let id: [u8; 32] = id_hex
            .as_bytes()
            .try_into()
            .map_err(|_| format!("bad record id {id_hex:?}"))?;
        let total = chunk_count(json.len(), self.message_bytes)
            .ok_or_else(|| format!("record of {} bytes needs too many chunks", json.len()))?;
        let sum = checksum(json);
        let mut buf = vec![0u8; MAX_MESSAGE_BYTES as usize];
        let mut send: Box<Sender> = match &self.target {
            SyslogTarget::Unix(path) => {
                let s = std::os::unix::net::UnixDatagram::unbound()
                    .and_then(|s| s.connect(path).map(|()| s))
                    .map_err(|e| format!("{path}: {e}"))?;
                s.set_write_timeout(Some(Duration::from_secs(5))).ok();
                Box::new(move |m| s.send(m).map(|_| ()))
            }
            SyslogTarget::Udp(addr) => {
                let s = std::net::UdpSocket::bind("0.0.0.0:0")
                    .and_then(|s| s.connect(addr.as_str()).map(|()| s))
                    .map_err(|e| format!("udp://{addr}: {e}"))?;
                Box::new(move |m| s.send(m).map(|_| ()))
            }
            SyslogTarget::Tcp(addr) => {
                use std::io::Write;
                let mut s = std::net::TcpStream::connect(addr.as_str())
                    .map_err(|e| format!("tcp://{addr}: {e}"))?;
                s.set_write_timeout(Some(Duration::from_secs(5))).ok();
                Box::new(move |m| {
                    s.write_all(format!("{} ", m.len()).as_bytes())?;
                    s.write_all(m)
                })
            }
        };
        for n in 1..=total {
            let len = message(&mut buf, json, self.message_bytes, n, pid, &id, sum)
                .ok_or("message buffer too small")?;
            send(&buf[..len]).map_err(|e| format!("{}: {e}", self.target))?;
        }
        Ok(())
    }
}
