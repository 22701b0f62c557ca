//! Headless Chromium, driven through the DevTools protocol, to check what a
//! person opening an HTML report would see.
//!
//! Chromium runs with `--remote-debugging-pipe` (commands on fd 3, replies
//! and events on fd 4, each message a JSON object ended by a NUL byte), so no
//! port is opened and no extra crate is needed. [`open`] loads a file and
//! gathers three kinds of evidence:
//!
//! - **errors**: console `error`/`assert` calls, uncaught exceptions and
//!   browser log entries at level `error` (a Content-Security-Policy refusal
//!   is one of these);
//! - **requests**: every request the page made other than for the file itself
//!   and `data:` URLs, as the network domain saw them, split into those sent
//!   and those the browser blocked before sending;
//! - **drawing**: for every `<section data-section>`, its `svg.chart`s with
//!   the number of data marks that have a non-empty box, and the number of
//!   coloured pixels inside the chart's area of a full-page screenshot.
//!
//! The browser is started with `--no-sandbox` (tests run as root),
//! `--disable-gpu` and the switches that stop background traffic
//! (component updates, sync, first-run), in a fresh profile directory.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Longest wait for any single reply or for the page to load.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Width of the emulated window (CSS pixels, scale factor 1).
const VIEW_W: u32 = 1200;

/// Debian's `chromium`, if installed.
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// One chart as drawn.
#[derive(Debug)]
pub struct ChartDraw {
    /// `data-chart` of the `<svg>` (`bar`, `heat-map`, ...).
    pub kind: String,
    /// Marks (`.mark`) whose box has a non-zero width or height.
    pub marks: usize,
    /// Box of the chart on the page, CSS pixels: x, y, width, height.
    pub rect: [f64; 4],
    /// Pixels inside the box whose colour is saturated (not white, grey or
    /// black): marks are drawn in colour, axes and text are not.
    pub coloured_pixels: usize,
}

/// One report section as drawn.
#[derive(Debug)]
pub struct SectionDraw {
    /// `data-section`.
    pub id: String,
    /// Its charts.
    pub charts: Vec<ChartDraw>,
}

/// What opening a page showed.
#[derive(Debug)]
pub struct Page {
    /// Console errors, exceptions and error-level log entries.
    pub errors: Vec<String>,
    /// URLs requested, other than the file itself and `data:` URLs, that the
    /// browser sent out.
    pub requests: Vec<String>,
    /// URLs the page asked for that the browser refused to send (blocked by
    /// the Content-Security-Policy).
    pub blocked: Vec<String>,
    /// The sections and their charts.
    pub sections: Vec<SectionDraw>,
    /// Full-page screenshot (PNG).
    pub screenshot: Vec<u8>,
}

/// A running browser with its protocol pipes.
struct Browser {
    child: Child,
    to: std::fs::File,
    from: Receiver<Value>,
    next_id: u64,
    /// Events seen while waiting for replies.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Open `file` in headless Chromium and report errors, requests and drawing.
pub fn open(file: &Path) -> Result<Page, String> {
    let exe = chromium().ok_or("chromium is not installed")?;
    let mut b = Browser::start(&exe)?;
    let target = b.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
    let target_id = target["targetId"]
        .as_str()
        .ok_or("no targetId")?
        .to_string();
    let attached = b.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
    )?;
    let session = attached["sessionId"]
        .as_str()
        .ok_or("no sessionId")?
        .to_string();
    let s = Some(session.as_str());
    for domain in ["Page", "Runtime", "Log", "Network"] {
        b.call(s, &format!("{domain}.enable"), json!({}))?;
    }
    b.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": VIEW_W, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    )?;
    let url = format!(
        "file://{}",
        file.canonicalize().map_err(|e| e.to_string())?.display()
    );
    b.call(s, "Page.navigate", json!({"url": url}))?;
    b.wait_event(&session, "Page.loadEventFired")?;
    // Layout and paint settle; late console messages arrive.
    b.pump(Duration::from_millis(300));

    let measured = b.call(
        s,
        "Runtime.evaluate",
        json!({"expression": MEASURE_JS, "returnByValue": true}),
    )?;
    let measured: Value = serde_json::from_str(
        measured["result"]["value"]
            .as_str()
            .ok_or_else(|| format!("measure script failed: {measured}"))?,
    )
    .map_err(|e| e.to_string())?;
    let height = measured["height"].as_f64().unwrap_or(900.0).ceil();
    let shot = b.call(
        s,
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true,
               "clip": {"x": 0, "y": 0, "width": VIEW_W, "height": height, "scale": 1}}),
    )?;
    let png_bytes = base64_decode(shot["data"].as_str().ok_or("no screenshot data")?)?;
    let image = decode_png(&png_bytes)?;

    let mut sections = Vec::new();
    for sec in measured["sections"].as_array().into_iter().flatten() {
        let mut charts = Vec::new();
        for c in sec["charts"].as_array().into_iter().flatten() {
            let rect = [0, 1, 2, 3].map(|i| c["rect"][i].as_f64().unwrap_or(0.0));
            charts.push(ChartDraw {
                kind: c["kind"].as_str().unwrap_or("").to_string(),
                marks: c["marks"].as_u64().unwrap_or(0) as usize,
                rect,
                coloured_pixels: image.coloured_in(rect),
            });
        }
        sections.push(SectionDraw {
            id: sec["id"].as_str().unwrap_or("").to_string(),
            charts,
        });
    }

    let _ = b.send(None, "Browser.close", json!({}));
    b.pump(Duration::from_millis(100));
    let (errors, requests, blocked) = evidence(&b.events, &url);
    Ok(Page {
        errors,
        requests,
        blocked,
        sections,
        screenshot: png_bytes,
    })
}

/// Per section: its charts, their data marks with a non-empty box, and their
/// boxes in page coordinates; plus the page height.
const MEASURE_JS: &str = r#"JSON.stringify({
  height: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
  sections: [...document.querySelectorAll('section[data-section]')].map(s => ({
    id: s.dataset.section,
    charts: [...s.querySelectorAll('svg.chart')].map(svg => {
      const r = svg.getBoundingClientRect();
      const marks = [...svg.querySelectorAll('.mark')].filter(m => {
        const b = m.getBoundingClientRect();
        return b.width > 0 || b.height > 0;
      }).length;
      return {kind: svg.dataset.chart, marks,
              rect: [r.left + scrollX, r.top + scrollY, r.width, r.height]};
    })
  }))
})"#;

/// Sort the events into errors, outside requests that went out, and
/// outside requests the browser blocked before sending (a
/// Content-Security-Policy refusal: `Network.loadingFailed` with a
/// `blockedReason`).
fn evidence(events: &[Value], page_url: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut requests: Vec<(String, String)> = Vec::new();
    let mut blocked_ids = std::collections::HashSet::new();
    for e in events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.consoleAPICalled" => {
                let kind = p["type"].as_str().unwrap_or("");
                if kind == "error" || kind == "assert" {
                    errors.push(format!("console.{kind}: {}", p["args"]));
                }
            }
            "Runtime.exceptionThrown" => {
                errors.push(format!("exception: {}", p["exceptionDetails"]));
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                errors.push(format!("log: {}", p["entry"]["text"]));
            }
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or("");
                if url != page_url && !url.starts_with("data:") {
                    let id = p["requestId"].as_str().unwrap_or("").to_string();
                    requests.push((id, url.to_string()));
                }
            }
            "Network.loadingFailed" if !p["blockedReason"].is_null() => {
                blocked_ids.insert(p["requestId"].as_str().unwrap_or("").to_string());
            }
            _ => {}
        }
    }
    let (blocked, sent): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .partition(|(id, _)| blocked_ids.contains(id));
    let urls = |v: Vec<(String, String)>| v.into_iter().map(|(_, u)| u).collect();
    (errors, urls(sent), urls(blocked))
}

impl Browser {
    fn start(exe: &Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (cmd_r, cmd_w) = pipe()?;
        let (res_r, res_w) = pipe()?;
        let (cmd_r_fd, res_w_fd) = (raw(&cmd_r), raw(&res_w));
        let mut command = Command::new(exe);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Chromium complains on stderr about D-Bus and the like in a
            // container; page errors come through the protocol instead.
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe dup2 calls between fork and exec; the
        // sources are above 100 (see `pipe`), so they never collide with 3, 4.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(cmd_r_fd, 3) < 0 || libc::dup2(res_w_fd, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        drop(cmd_r);
        drop(res_w);
        let (tx, rx) = mpsc::channel();
        let mut from = std::fs::File::from(res_r);
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                match from.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                while let Some(end) = buf.iter().position(|&b| b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Browser {
            child,
            to: std::fs::File::from(cmd_w),
            from: rx,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        })
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<u64, String> {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .map_err(|e| format!("chromium pipe: {e}"))?;
        Ok(self.next_id)
    }

    /// Send a command and wait for its reply, keeping events on the way.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.send(session, method, params)?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, method)?;
            if msg["id"].as_u64() == Some(id) {
                if let Some(err) = msg.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(msg["result"].clone());
            }
            if msg.get("method").is_some() {
                self.events.push(msg);
            }
        }
    }

    fn wait_event(&mut self, session: &str, method: &str) -> Result<(), String> {
        let seen = |e: &Value| e["method"] == method && e["sessionId"] == session;
        if self.events.iter().any(seen) {
            return Ok(());
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, method)?;
            let hit = seen(&msg);
            self.events.push(msg);
            if hit {
                return Ok(());
            }
        }
    }

    fn recv(&mut self, deadline: Instant, what: &str) -> Result<Value, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from.recv_timeout(left) {
            Ok(v) => Ok(v),
            Err(RecvTimeoutError::Timeout) => Err(format!("chromium: no answer to {what}")),
            Err(RecvTimeoutError::Disconnected) => Err(format!("chromium exited during {what}")),
        }
    }

    /// Collect whatever events arrive within `d`.
    fn pump(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Ok(v) = self
            .from
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.events.push(v);
        }
    }
}

/// A pipe whose ends are moved above fd 100 and closed on exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    let high = |fd: RawFd| -> Result<OwnedFd, String> {
        // SAFETY: fd is an open descriptor we own; F_DUPFD_CLOEXEC makes a
        // new one at or above 100, and we close the old one right after.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        // SAFETY: fd was returned by pipe2 and is closed exactly once.
        unsafe { libc::close(fd) };
        if new < 0 {
            return Err(format!("fcntl: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: new is a fresh descriptor owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(new) })
    };
    Ok((high(fds[0])?, high(fds[1])?))
}

fn raw(fd: &OwnedFd) -> RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

/// An RGBA image.
struct Image {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Image {
    /// Saturated pixels inside `[x, y, w, h]`.
    fn coloured_in(&self, r: [f64; 4]) -> usize {
        let x0 = r[0].max(0.0) as usize;
        let y0 = r[1].max(0.0) as usize;
        let x1 = ((r[0] + r[2]).ceil() as usize).min(self.width);
        let y1 = ((r[1] + r[3]).ceil() as usize).min(self.height);
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let p = &self.rgba[(y * self.width + x) * 4..][..3];
                let (hi, lo) = (p.iter().max().unwrap(), p.iter().min().unwrap());
                if hi - lo > 40 {
                    n += 1;
                }
            }
        }
        n
    }
}

fn decode_png(bytes: &[u8]) -> Result<Image, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| format!("png: {e}"))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("png: {e}"))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf[..w * h * 4].to_vec(),
        png::ColorType::Rgb => buf[..w * h * 3]
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => return Err(format!("png: unexpected colour type {other:?}")),
    };
    Ok(Image {
        width: w,
        height: h,
        rgba,
    })
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("base64: {e}"))
}
