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

/// The configured sinks.
#[derive(Clone, Debug)]
pub struct Sinks {
    /// Records go to the spool directory.
    pub spool: bool,
    /// Records go to syslog.
    pub syslog: bool,
    /// Where syslog messages go.
    pub target: SyslogTarget,
}

/// The syslog socket when the configuration names none.
pub const DEFAULT_SYSLOG: &str = "/dev/log";

impl Sinks {
    /// Reads `sinks` and `syslog` from the configuration file in force
    /// (default: the spool only, `/dev/log`).
    pub fn of(e: &Effective) -> Sinks {
        let table: Option<toml::Table> = e
            .source
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| t.parse().ok());
        let list: Vec<String> = table
            .as_ref()
            .and_then(|t| t.get("sinks")?.as_array().cloned())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_else(|| vec!["spool".to_owned()]);
        let target = table
            .as_ref()
            .and_then(|t| t.get("syslog")?.as_str().map(str::to_owned))
            .and_then(|s| SyslogTarget::parse(&s).ok())
            .unwrap_or_else(|| SyslogTarget::Unix(DEFAULT_SYSLOG.to_owned()));
        Sinks {
            spool: list.iter().any(|s| s == "spool"),
            syslog: list.iter().any(|s| s == "syslog"),
            target,
        }
    }
}
