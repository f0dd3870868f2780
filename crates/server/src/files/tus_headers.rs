//! The tus request headers as pure functions of their text (no request, no store), so they can be
//! fuzzed on their own: `Upload-Length`/`Upload-Offset`/`Content-Length` numbers, `Upload-Metadata`,
//! `Upload-Checksum`, `Tus-Resumable`. Errors are the `VALIDATION_ERROR` messages the routes send.

use base64::Engine;
use quire_filestore::{Checksum, ChecksumAlgo};

/// The only protocol version served.
pub const VERSION: &str = "1.0.0";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `Tus-Resumable` must name exactly the served version.
pub fn version_supported(v: &str) -> bool {
    v == VERSION
}

/// A non-negative decimal integer (surrounding whitespace allowed).
pub fn parse_number(name: &str, v: &str) -> Result<u64, String> {
    v.trim().parse().map_err(|_| format!("{name} must be a non-negative integer"))
}

/// `Upload-Metadata`: `key base64value` pairs, comma-separated; a key may have no value.
pub fn parse_metadata(v: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes = b64().decode(val.trim()).map_err(|_| format!("Upload-Metadata: {k} is not base64"))?;
        let val = String::from_utf8(bytes).map_err(|_| format!("Upload-Metadata: {k} is not UTF-8"))?;
        if out.iter().any(|(ek, _)| ek == k) {
            return Err(format!("Upload-Metadata: duplicate key {k}"));
        }
        out.push((k.to_string(), val));
    }
    Ok(out)
}

/// The header text for parsed metadata (what a client would send); parses back to the same pairs.
pub fn encode_metadata(pairs: &[(String, String)]) -> String {
    let one = |(k, v): &(String, String)| {
        if v.is_empty() { k.clone() } else { format!("{k} {}", b64().encode(v)) }
    };
    pairs.iter().map(one).collect::<Vec<_>>().join(",")
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
pub fn parse_checksum(v: &str) -> Result<Checksum, String> {
    let (algo, digest) = v.trim().split_once(' ').ok_or("Upload-Checksum: <algorithm> <base64>")?;
    let algo = ChecksumAlgo::parse(algo).ok_or_else(|| {
        format!("Unsupported checksum algorithm {algo}; supported: {}", ChecksumAlgo::NAMES)
    })?;
    let digest = b64().decode(digest.trim()).map_err(|_| "Upload-Checksum digest is not base64")?;
    Ok(Checksum { algo, digest })
}

/// The header text for a parsed checksum; parses back to the same checksum.
pub fn encode_checksum(c: &Checksum) -> String {
    let name = match c.algo {
        ChecksumAlgo::Sha1 => "sha1",
        ChecksumAlgo::Sha256 => "sha256",
        ChecksumAlgo::Blake3 => "blake3",
    };
    format!("{name} {}", b64().encode(&c.digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        let m = parse_metadata("filename d29ybGQucHJn, is_confidential ,filetype dGV4dC9wbGFpbg==").unwrap();
        let want = [("filename", "world.prg"), ("is_confidential", ""), ("filetype", "text/plain")];
        assert_eq!(m, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(parse_metadata(&encode_metadata(&m)).unwrap(), m);
        assert!(parse_metadata("a !!").unwrap_err().contains("not base64"));
        assert!(parse_metadata("a /w==").unwrap_err().contains("UTF-8"));
        assert!(parse_metadata("a,a").unwrap_err().contains("duplicate"));
        assert_eq!(parse_metadata(" , ,").unwrap(), vec![]);
    }

    #[test]
    fn checksum_and_numbers() {
        let c = parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").unwrap();
        assert_eq!((c.algo, c.digest.len()), (ChecksumAlgo::Sha1, 20));
        assert_eq!(parse_checksum(&encode_checksum(&c)).unwrap().digest, c.digest);
        assert!(parse_checksum("md5 AAAA").unwrap_err().contains("Unsupported"));
        assert!(parse_checksum("sha1").is_err());
        assert!(parse_checksum("sha1 ***").is_err());
        assert_eq!(parse_number("Upload-Length", " 42 "), Ok(42));
        assert!(parse_number("Upload-Length", "-1").is_err());
        assert!(parse_number("Upload-Length", "18446744073709551616").is_err());
        assert!(version_supported("1.0.0") && !version_supported("0.2.2"));
    }
}
