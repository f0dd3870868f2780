//! Secret values and AI provider keys at rest: XChaCha20-Poly1305 under an instance key kept in a 0600
//! file in the data dir (or given by the environment). Plaintext lives only in `Zeroizing` buffers.

use crate::error::{NotebookError, Result};
use crate::fsx;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use quire_stdx::DataDir;
use std::path::Path;
use zeroize::Zeroizing;

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
        let bytes = quire_stdx::hex::decode::<32>(text.trim())
            .ok_or_else(|| bad("the secret key must be 64 hex digits"))?;
        Ok(SealKey(Zeroizing::new(bytes)))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(quire_stdx::hex::encode(&self.0[..]))
    }

    /// Read `DATA_DIR/secret.key`, creating it (0600, durably) on first start.
    pub fn load_or_create(data_dir: &DataDir) -> Result<SealKey> {
        let path = data_dir.secret_key();
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
        let mut text = self.to_hex();
        text.push('\n');
        Ok(quire_stdx::fs::write_atomic_private(path, text.as_bytes())?)
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

/// The instance key for the data dir's database: `env_key` when given (`--secret-key`), else the key
/// file, finishing a rotation that was interrupted between re-encrypting and renaming the new key into
/// place (whichever key opens the database wins).
pub fn instance_key(data_dir: &DataDir, env_key: Option<&str>) -> Result<SealKey> {
    if let Some(hex) = env_key {
        return SealKey::from_hex(hex);
    }
    let (db_path, next_path) = (data_dir.db(), data_dir.next_secret_key());
    let Some(next) = SealKey::read_file(&next_path)? else {
        return SealKey::load_or_create(data_dir);
    };
    let current = SealKey::read_file(&data_dir.secret_key())?;
    if let Some(cur) = current.filter(|k| crate::db::SqliteDatabase::key_opens(&db_path, k).unwrap_or(false))
    {
        for (_, staged) in sealed_files(data_dir) {
            remove_if_there(&staged)?;
        }
        std::fs::remove_file(&next_path)?;
        return Ok(cur);
    }
    if crate::db::SqliteDatabase::key_opens(&db_path, &next)? {
        install_staged(data_dir)?;
        std::fs::rename(&next_path, data_dir.secret_key())?;
        fsx::sync_dir(data_dir.root())?;
        return Ok(next);
    }
    Err(bad("neither secret.key nor secret.key.next opens the database"))
}

/// Replace the instance key: write the next key, re-encrypt everything under it in one transaction,
/// then rename it into place. A crash at any point leaves a state `instance_key` resolves.
pub fn rotate(data_dir: &DataDir) -> Result<usize> {
    let current = instance_key(data_dir, None)?;
    let next = SealKey::generate()?;
    let next_path = data_dir.next_secret_key();
    next.write_file(&next_path)?;
    // Sealed values outside the database are staged under the next key first, and put in place once the
    // database has moved to it (`instance_key` finishes or undoes this after a crash).
    for (file, staged) in sealed_files(data_dir) {
        reseal_file(&file, &staged, &current, &next)?;
    }
    let db = crate::db::SqliteDatabase::open(&data_dir.db(), current)?;
    let n = db.rotate_key(&next)?;
    drop(db);
    install_staged(data_dir)?;
    std::fs::rename(&next_path, data_dir.secret_key())?;
    fsx::sync_dir(data_dir.root())?;
    Ok(n)
}

/// JSON files beside the database whose string values may be sealed (`mcp.json`'s `env` and `headers`),
/// each with where its re-sealed copy is staged during a rotation.
fn sealed_files(data_dir: &DataDir) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let mcp = data_dir.mcp_config();
    let staged = mcp.with_extension("json.next");
    vec![(mcp, staged)]
}

fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn install_staged(data_dir: &DataDir) -> Result<()> {
    for (file, staged) in sealed_files(data_dir) {
        if staged.exists() {
            std::fs::rename(&staged, &file)?;
        }
    }
    Ok(())
}

/// Copy `file` to `staged` with every sealed string opened with `from` and sealed again with `to`.
fn reseal_file(file: &Path, staged: &Path, from: &SealKey, to: &SealKey) -> Result<()> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{} is not JSON ({e}); fix it before rotating the key", file.display())))?;
    reseal(&mut doc, from, to)?;
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| bad(e.to_string()))?;
    bytes.push(b'\n');
    Ok(quire_stdx::fs::write_atomic_private(staged, &bytes)?)
}

fn reseal(v: &mut serde_json::Value, from: &SealKey, to: &SealKey) -> Result<()> {
    match v {
        serde_json::Value::String(s) if SealKey::is_sealed(s) => *s = to.seal(&from.open(s)?)?,
        serde_json::Value::Array(items) => items.iter_mut().try_for_each(|i| reseal(i, from, to))?,
        serde_json::Value::Object(map) => map.values_mut().try_for_each(|i| reseal(i, from, to))?,
        _ => {}
    }
    Ok(())
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
        let data = DataDir::new(dir.path());
        let db_path = data.db();
        let k = instance_key(&data, None).unwrap();
        let db = crate::db::SqliteDatabase::open(&db_path, k.clone()).unwrap();
        crate::db::SecretStore::upsert_secret(&db, "A", "v").unwrap();
        drop(db);
        assert_eq!(rotate(&data).unwrap(), 1);
        let k2 = instance_key(&data, None).unwrap();
        assert_ne!(k2.0, k.0);
        // Interrupted after writing the next key but before re-encrypting: the current key still wins.
        SealKey::generate().unwrap().write_file(&data.next_secret_key()).unwrap();
        let k3 = instance_key(&data, None).unwrap();
        assert_eq!(k3.0, k2.0);
        assert!(!data.next_secret_key().exists());
        // Interrupted after re-encrypting but before the rename: the next key wins and is promoted.
        let next = SealKey::generate().unwrap();
        next.write_file(&data.next_secret_key()).unwrap();
        crate::db::SqliteDatabase::open(&db_path, k3).unwrap().rotate_key(&next).unwrap();
        let k4 = instance_key(&data, None).unwrap();
        assert_eq!(k4.0, next.0);
        let db = crate::db::SqliteDatabase::open(&db_path, k4).unwrap();
        assert_eq!(crate::db::SecretStore::secrets(&db).unwrap()[0].value, "v");
    }

    #[test]
    fn sealed_values_in_mcp_json_move_to_the_new_key_and_an_interrupted_rotation_keeps_them_readable() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let k = instance_key(&data, None).unwrap();
        drop(crate::db::SqliteDatabase::open(&data.db(), k.clone()).unwrap());
        let doc = |key: &SealKey| serde_json::json!({"mcpServers": {"gh": {"command": "npx", "env": {"TOKEN": key.seal("tok").unwrap(), "PLAIN": "p"}}}});
        let token = |key: &SealKey| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(data.mcp_config()).unwrap()).unwrap();
            let (sealed, plain) =
                (&v["mcpServers"]["gh"]["env"]["TOKEN"], &v["mcpServers"]["gh"]["env"]["PLAIN"]);
            assert_eq!(plain, "p");
            key.open(sealed.as_str().unwrap()).map(|t| t.to_string())
        };
        std::fs::write(data.mcp_config(), doc(&k).to_string()).unwrap();
        rotate(&data).unwrap();
        let k2 = instance_key(&data, None).unwrap();
        assert_eq!(token(&k2).unwrap(), "tok");
        assert!(token(&k).is_err());

        // Crash after the database moved to the next key, before the staged file was put in place.
        let next = SealKey::generate().unwrap();
        next.write_file(&data.next_secret_key()).unwrap();
        reseal_file(&data.mcp_config(), &sealed_files(&data)[0].1, &k2, &next).unwrap();
        crate::db::SqliteDatabase::open(&data.db(), k2.clone()).unwrap().rotate_key(&next).unwrap();
        let k3 = instance_key(&data, None).unwrap();
        assert_eq!(k3.0, next.0);
        assert_eq!(token(&k3).unwrap(), "tok");
        // Crash before the database moved: the staged copy is dropped, the old file stays.
        let other = SealKey::generate().unwrap();
        other.write_file(&data.next_secret_key()).unwrap();
        reseal_file(&data.mcp_config(), &sealed_files(&data)[0].1, &k3, &other).unwrap();
        assert_eq!(instance_key(&data, None).unwrap().0, k3.0);
        assert_eq!(token(&k3).unwrap(), "tok");
        assert!(!sealed_files(&data)[0].1.exists());
    }

    #[test]
    fn key_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let a = SealKey::load_or_create(&data).unwrap();
        let b = SealKey::load_or_create(&data).unwrap();
        assert_eq!(a.0, b.0);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(data.secret_key()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert!(SealKey::from_hex("zz").is_err());
    }
}
