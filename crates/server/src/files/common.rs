//! Helpers every file route shares: store work off the async runtime, FileDB's sanitising and dates,
//! a blocking reader over an async body, role permissions, and which paths are file routes.

use crate::error::ApiError;
use axum::body::Bytes;
use quire_filestore::FileStoreError;
use serde_json::{Value, json};
use std::io::{self, Read};

/// File routes return `ApiError`s; their router renders them in FileDB's shape.
pub type FileResult<T> = Result<T, ApiError>;

/// Run store work (SQLite, disk) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FileStoreError> + Send + 'static,
) -> FileResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(format!("task failed: {e}"))),
    }
}

/// FileDB's sanitising of `owner` and emails: tags removed, `<>'"&` removed, whitespace runs made one
/// space, cut to 100 characters, trimmed.
pub fn sanitize(input: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in input.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '>' | '\'' | '"' | '&' => {}
            c => out.push(c),
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let spaced = if out.starts_with(char::is_whitespace) { format!(" {collapsed}") } else { collapsed };
    spaced.chars().take(100).collect::<String>().trim().to_string()
}

/// ISO 8601 UTC with milliseconds, like JavaScript's `toISOString`.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A blocking `Read` over body pieces sent from the async side; the store reads it on a blocking thread.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
}

impl ChannelReader {
    pub fn new(rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>) -> Self {
        ChannelReader { rx, cur: Bytes::new() }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

/// Permissions FileDB reports for a role.
pub fn permissions(role: &str) -> Value {
    if role == "admin" {
        json!([
            "upload:files",
            "download:files",
            "list:files",
            "quota:view",
            "delete:files",
            "admin:access",
            "admin:users"
        ])
    } else {
        json!(["upload:files", "download:files", "list:files", "quota:view"])
    }
}

/// Paths served by this module (FileDB, tus, `/auth`), whose credentials are checked here.
pub fn is_file_route(path: &str) -> bool {
    ["/files", "/api/files/", "/uploads", "/auth/", "/status/"].iter().any(|p| path.starts_with(p))
        || path == "/quota"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_filedb() {
        assert_eq!(sanitize("  <b>Al   ice</b> & 'co'  "), "Al ice co");
        assert_eq!(sanitize("smoke-owner-1"), "smoke-owner-1");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
