//! Secret values and AI provider keys at rest: XChaCha20-Poly1305 under an instance key kept in a 0600
//! file in the data dir (or given by the environment). Plaintext lives only in `Zeroizing` buffers.

use crate::error::{NotebookError, Result};
use crate::fsx;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const KEY_FILE: &str = "secret.key";
/// A rotation in progress: the new key, written before the database is re-encrypted.
pub const NEXT_KEY_FILE: &str = "secret.key.next";
const PREFIX: &str = "x1.";
const AAD: &[u8] = b"quire secret v1";

#[derive(Clone)]
pub struct SealKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

fn bad(msg: impl Into<String>) -> NotebookError {
    NotebookError::Database(msg.into())
}

impl SealKey {
    pub fn generate() -> Result<SealKey> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut k[..]).map_err(|e| bad(format!("no randomness: {e}")))?;
        Ok(SealKey(k))
    }

    /// 64 hex digits (the key file's content, or `QUIRE_SECRET_KEY`).
    pub fn from_hex(text: &str) -> Result<SealKey> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the secret key must be 64 hex digits"));
        }
        let mut k = Zeroizing::new([0u8; 32]);
        for (i, byte) in k.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| bad(e.to_string()))?;
        }
        Ok(SealKey(k))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Read `DATA_DIR/secret.key`, creating it (0600, durably) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<SealKey> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => SealKey::from_hex(&Zeroizing::new(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SealKey::generate()?;
                key.write_file(&path)?;
                Ok(key)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn read_file(path: &Path) -> Result<Option<SealKey>> {
        match std::fs::read_to_string(path) {
            Ok(text) => SealKey::from_hex(&Zeroizing::new(text)).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Write the key to `path` with mode 0600: temp file, fsync, rename, fsync dir.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let tmp = tmp_path(path);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(self.to_hex().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fsx::sync_dir(dir)?;
        }
        Ok(())
    }

    pub fn seal(&self, plain: &str) -> Result<String> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| bad(format!("no randomness: {e}")))?;
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: AAD })
            .map_err(|_| bad("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> Result<Zeroizing<String>> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|r| r.len() > 24)
            .ok_or_else(|| bad("a sealed value is malformed"))?;
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let plain =
            cipher.decrypt(XNonce::from_slice(&raw[..24]), Payload { msg: &raw[24..], aad: AAD }).map_err(
                |_| bad("a secret cannot be decrypted with this instance key (wrong or rotated key?)"),
            )?;
        String::from_utf8(plain).map(Zeroizing::new).map_err(|_| bad("a sealed value is not UTF-8"))
    }

    /// A MAC of `data` under a key derived from this one (BLAKE3 keyed mode), for stamps.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let k = Zeroizing::new(blake3::derive_key(purpose, &self.0[..]));
        *blake3::keyed_hash(&k, data).as_bytes()
    }

    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

/// The instance key for the database at `db_path`: `env_key` when given (`QUIRE_SECRET_KEY`), else the
/// key file, finishing a rotation that was interrupted between re-encrypting and renaming the new key
/// into place (whichever key opens the database wins).
pub fn instance_key(data_dir: &Path, db_path: &Path, env_key: Option<&str>) -> Result<SealKey> {
    if let Some(hex) = env_key {
        return SealKey::from_hex(hex);
    }
    let next_path = data_dir.join(NEXT_KEY_FILE);
    let Some(next) = SealKey::read_file(&next_path)? else {
        return SealKey::load_or_create(data_dir);
    };
    let current = SealKey::read_file(&data_dir.join(KEY_FILE))?;
    if let Some(cur) = current.filter(|k| crate::db::SqliteDatabase::key_opens(db_path, k).unwrap_or(false)) {
        std::fs::remove_file(&next_path)?;
        return Ok(cur);
    }
    if crate::db::SqliteDatabase::key_opens(db_path, &next)? {
        std::fs::rename(&next_path, data_dir.join(KEY_FILE))?;
        fsx::sync_dir(data_dir)?;
        return Ok(next);
    }
    Err(bad("neither secret.key nor secret.key.next opens the database"))
}

/// Replace the instance key: write the next key, re-encrypt everything under it in one transaction,
/// then rename it into place. A crash at any point leaves a state `instance_key` resolves.
pub fn rotate(data_dir: &Path, db_path: &Path) -> Result<usize> {
    let current = instance_key(data_dir, db_path, None)?;
    let next = SealKey::generate()?;
    let next_path = data_dir.join(NEXT_KEY_FILE);
    next.write_file(&next_path)?;
    let db = crate::db::SqliteDatabase::open(db_path, current)?;
    let n = db.rotate_key(&next)?;
    drop(db);
    std::fs::rename(&next_path, data_dir.join(KEY_FILE))?;
    fsx::sync_dir(data_dir)?;
    Ok(n)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let k = SealKey::generate().unwrap();
        let s = k.seal("hunter2").unwrap();
        assert!(SealKey::is_sealed(&s) && !s.contains("hunter2"));
        assert_eq!(k.open(&s).unwrap().as_str(), "hunter2");
        assert_ne!(k.seal("hunter2").unwrap(), s, "fresh nonce each time");
        let other = SealKey::generate().unwrap();
        assert!(other.open(&s).is_err());
        let mut bytes = s.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(k.open(&String::from_utf8(bytes).unwrap()).is_err());
        assert_eq!(format!("{k:?}"), "SealKey([redacted])");
    }

    #[test]
    fn rotation_and_its_interruption() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("q.db");
        let k = instance_key(dir.path(), &db_path, None).unwrap();
        let db = crate::db::SqliteDatabase::open(&db_path, k.clone()).unwrap();
        crate::Database::upsert_secret(&db, "A", "v").unwrap();
        drop(db);
        assert_eq!(rotate(dir.path(), &db_path).unwrap(), 1);
        let k2 = instance_key(dir.path(), &db_path, None).unwrap();
        assert_ne!(k2.0, k.0);
        // Interrupted after writing the next key but before re-encrypting: the current key still wins.
        SealKey::generate().unwrap().write_file(&dir.path().join(NEXT_KEY_FILE)).unwrap();
        let k3 = instance_key(dir.path(), &db_path, None).unwrap();
        assert_eq!(k3.0, k2.0);
        assert!(!dir.path().join(NEXT_KEY_FILE).exists());
        // Interrupted after re-encrypting but before the rename: the next key wins and is promoted.
        let next = SealKey::generate().unwrap();
        next.write_file(&dir.path().join(NEXT_KEY_FILE)).unwrap();
        crate::db::SqliteDatabase::open(&db_path, k3).unwrap().rotate_key(&next).unwrap();
        let k4 = instance_key(dir.path(), &db_path, None).unwrap();
        assert_eq!(k4.0, next.0);
        let db = crate::db::SqliteDatabase::open(&db_path, k4).unwrap();
        assert_eq!(crate::Database::secrets(&db).unwrap()[0].value, "v");
    }

    #[test]
    fn key_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = SealKey::load_or_create(dir.path()).unwrap();
        let b = SealKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert!(SealKey::from_hex("zz").is_err());
    }
}
