//! What an upload may declare about itself, checked the same way for multipart and tus: the media type
//! (FileDB's allow-list), the filename (length, no control characters) and the metadata header's size.
//! And which stored types a download may show inline: only inert ones, so an uploaded HTML or SVG file
//! can never run script on Quire's origin.

use super::common::FileResult;
use crate::error::ApiError;

/// FileDB's allow-list of base media types.
const ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "application/msword",
    "application/rtf",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/zip",
    "application/x-rar-compressed",
    "application/x-7z-compressed",
    "application/x-tar",
    "application/gzip",
    "application/json",
    "application/xml",
    "application/octet-stream",
    "application/x-apple-diskimage",
    "text/plain",
    "text/csv",
    "text/markdown",
    "text/x-markdown",
    "text/javascript",
    "text/html",
    "text/css",
    "text/x-python",
    "text/x-java-source",
    "text/x-c",
    "text/x-c++",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/svg+xml",
    "image/bmp",
    "image/tiff",
    "audio/mpeg",
    "audio/wav",
    "audio/ogg",
    "audio/mp4",
    "audio/flac",
    "video/mp4",
    "video/mpeg",
    "video/quicktime",
    "video/x-msvideo",
    "video/webm",
];

/// Longest filename kept (bytes): what file systems and `Content-Disposition` handle everywhere.
pub const MAX_FILENAME_BYTES: usize = 255;
/// Longest `Upload-Metadata` header accepted (bytes).
pub const MAX_METADATA_BYTES: usize = 4096;

/// Types a browser shows without running anything, served inline only when asked (`?inline=1`).
const INLINE_SAFE: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "text/plain", "application/pdf"];

pub fn filename(name: &str) -> FileResult<()> {
    if name.len() > MAX_FILENAME_BYTES {
        return Err(field_error(
            "filename",
            format!("The filename is {} bytes; at most {MAX_FILENAME_BYTES} are allowed", name.len()),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(field_error("filename", "The filename must not contain control characters".into()));
    }
    Ok(())
}

/// A declared media type: on the allow-list (by base type) and safe to send back as a header.
pub fn content_type(ct: &str) -> FileResult<()> {
    if ct.chars().any(char::is_control) || ct.len() > 255 {
        return Err(field_error(
            "filetype",
            "The file type must be a media type without control characters".into(),
        ));
    }
    let base = quire_filestore::sqlite::base_type(ct);
    if !ALLOWED_TYPES.contains(&base.as_str()) {
        return Err(ApiError::invalid(format!("File type not supported: {ct}")));
    }
    Ok(())
}

/// tus `Upload-Metadata`, checked like a multipart upload's fields (the keys `tus_finalize` reads);
/// `owner` is sanitised as FileDB does.
pub fn tus_metadata(pairs: Vec<(String, String)>) -> FileResult<Vec<(String, String)>> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            match k.as_str() {
                "filename" | "name" => filename(&v)?,
                "filetype" | "type" | "content_type" if !v.is_empty() => content_type(&v)?,
                "owner" => return Ok((k, super::common::sanitize(&v))),
                "btl_days" | "ttl_days"
                    if !v.trim().parse::<i64>().is_ok_and(|d| (0..=36_500).contains(&d)) =>
                {
                    return Err(field_error(
                        &k,
                        format!("{k} must be a whole number of days from 0 to 36500"),
                    ));
                }
                _ => {}
            }
            Ok((k, v))
        })
        .collect()
}

pub fn inline_safe(ct: &str) -> bool {
    INLINE_SAFE.contains(&quire_filestore::sqlite::base_type(ct).as_str())
}

fn field_error(field: &str, message: String) -> ApiError {
    ApiError::invalid(message.clone()).with_context(serde_json::json!({"field": field, "message": message}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types() {
        assert!(filename("report.pdf").is_ok());
        assert!(filename(&"x".repeat(256)).is_err());
        assert!(filename("a\u{0}b").is_err());
        assert!(content_type("text/plain;charset=utf-8").is_ok());
        assert!(content_type("text/html\r\nX-A: b").is_err());
        assert!(content_type("application/x-evil").is_err());
        assert!(inline_safe("image/PNG") && inline_safe("text/plain; charset=utf-8"));
        assert!(!inline_safe("image/svg+xml") && !inline_safe("text/html"));
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert!(tus_metadata(pairs(&[("filetype", "text/html\u{1}")])).is_err());
        assert!(tus_metadata(pairs(&[("filetype", "application/x-msdownload")])).is_err());
        assert!(tus_metadata(pairs(&[("btl_days", "-3")])).is_err());
        let ok = tus_metadata(pairs(&[("owner", "<b>quire</b>"), ("filetype", "")])).unwrap();
        assert_eq!(ok[0].1, "quire");
    }
}
