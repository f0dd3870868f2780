//! Chunk bodies behind `BlobStore` (a local directory now; an S3-compatible store implements the same
//! trait). A stored blob is one codec byte (`0` raw, `1` zstd) followed by the payload, so a blob can be
//! decoded and verified without the database.

use crate::error::Result;
use crate::{Hash, hex};
use quire_stdx::fs::{DeleteOnDrop, sync_dir, temp_path};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const CODEC_RAW: u8 = 0;
pub const CODEC_ZSTD: u8 = 1;

pub trait BlobStore: Send + Sync {
    /// Write the blob (temp file, fsync, rename). Its directory entry is durable after `sync`.
    fn put(&self, hash: &Hash, stored: &[u8]) -> Result<()>;
    /// Make every earlier `put` of these hashes durable (fsync their directories).
    fn sync(&self, hashes: &[Hash]) -> Result<()>;
    /// The stored bytes (codec byte included), or `None` when the blob is missing.
    fn get(&self, hash: &Hash) -> Result<Option<Vec<u8>>>;
    fn exists(&self, hash: &Hash) -> Result<bool>;
    /// Remove (missing is fine) and make the removal durable.
    fn delete(&self, hash: &Hash) -> Result<()>;
    /// Every stored blob, for fsck.
    fn list(&self) -> Result<Vec<Hash>>;
    /// Move a damaged blob aside (kept for inspection, never served again).
    fn quarantine(&self, hash: &Hash) -> Result<()>;
}

/// `root/<first two hex digits>/<hex hash>`: 256 shard directories keep directories small.
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Creates all 256 shard directories up front, so a write never pays for a directory create.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root)?;
        let mut created = false;
        for i in 0..=255u8 {
            let d = root.join(format!("{i:02x}"));
            if !d.is_dir() {
                fs::create_dir(&d)?;
                created = true;
            }
        }
        if created {
            sync_dir(root)?;
        }
        Ok(LocalBlobStore { root: root.to_path_buf() })
    }

    fn shard(&self, hash: &Hash) -> PathBuf {
        self.root.join(format!("{:02x}", hash[0]))
    }

    pub fn path(&self, hash: &Hash) -> PathBuf {
        self.shard(hash).join(hex(hash))
    }
}

impl BlobStore for LocalBlobStore {
    fn put(&self, hash: &Hash, stored: &[u8]) -> Result<()> {
        // The directory is synced later, once for a whole batch (`sync`).
        let path = self.path(hash);
        let tmp = DeleteOnDrop::new(temp_path(&path)?);
        let mut f = OpenOptions::new().write(true).create_new(true).open(tmp.path())?;
        f.write_all(stored)?;
        f.sync_all()?;
        fs::rename(tmp.path(), &path)?;
        tmp.keep();
        Ok(())
    }

    fn sync(&self, hashes: &[Hash]) -> Result<()> {
        let mut shards: Vec<u8> = hashes.iter().map(|h| h[0]).collect();
        shards.sort_unstable();
        shards.dedup();
        for s in shards {
            sync_dir(&self.root.join(format!("{s:02x}")))?;
        }
        Ok(())
    }

    fn get(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        match fs::read(self.path(hash)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn exists(&self, hash: &Hash) -> Result<bool> {
        Ok(self.path(hash).is_file())
    }

    fn delete(&self, hash: &Hash) -> Result<()> {
        match fs::remove_file(self.path(hash)) {
            Ok(()) => Ok(sync_dir(&self.shard(hash))?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn list(&self) -> Result<Vec<Hash>> {
        let mut out = Vec::new();
        for shard in fs::read_dir(&self.root)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for e in fs::read_dir(shard.path())? {
                let name = e?.file_name();
                if let Some(h) = name.to_str().and_then(quire_stdx::hex::decode::<32>) {
                    out.push(h);
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn quarantine(&self, hash: &Hash) -> Result<()> {
        let from = self.path(hash);
        let to = from.with_extension("corrupted");
        match fs::rename(&from, &to) {
            Ok(()) => Ok(sync_dir(&self.shard(hash))?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Encode a chunk for storage: zstd only when it saves at least 1/8 (a 64 KiB sample decides first, so
/// incompressible data costs little).
pub fn encode(data: &[u8]) -> Vec<u8> {
    const SAMPLE: usize = 64 * 1024;
    let worth_trying = data.len() >= 4096 && {
        let sample = &data[..data.len().min(SAMPLE)];
        // Near-random bytes (media, archives, encrypted data) never shrink by 1/8: a byte histogram says
        // so in microseconds, where a trial compression costs a tenth of the upload's CPU.
        !looks_random(sample) && {
            let c = ruzstd::encoding::compress_to_vec(sample, ruzstd::encoding::CompressionLevel::Fastest);
            c.len() < sample.len() * 7 / 8
        }
    };
    if worth_trying {
        let c = ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest);
        if c.len() < data.len() * 7 / 8 {
            let mut out = Vec::with_capacity(c.len() + 1);
            out.push(CODEC_ZSTD);
            out.extend_from_slice(&c);
            return out;
        }
    }
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(CODEC_RAW);
    out.extend_from_slice(data);
    out
}

/// Shannon entropy of the byte histogram above 7.9 bits per byte: no byte-level redundancy to speak of.
fn looks_random(sample: &[u8]) -> bool {
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[b as usize] += 1;
    }
    let n = sample.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.9
}

/// Decode a stored blob; `Err` carries a reason (unknown codec, bad zstd frame).
pub fn decode(mut stored: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    match stored.first() {
        Some(&CODEC_RAW) => {
            stored.remove(0);
            Ok(stored)
        }
        Some(&CODEC_ZSTD) => {
            use std::io::Read;
            let mut out = Vec::new();
            let mut dec =
                ruzstd::decoding::StreamingDecoder::new(&stored[1..]).map_err(|e| format!("zstd: {e}"))?;
            dec.read_to_end(&mut out).map_err(|e| format!("zstd: {e}"))?;
            Ok(out)
        }
        Some(c) => Err(format!("unknown codec byte {c}")),
        None => Err("empty blob".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trip_compressible_and_not() {
        let text = b"hello world ".repeat(10_000);
        let enc = encode(&text);
        assert_eq!(enc[0], CODEC_ZSTD);
        assert!(enc.len() < text.len() / 4);
        assert_eq!(decode(enc).unwrap(), text);
        let mut noise = vec![0u8; 100_000];
        getrandom::fill(&mut noise).unwrap();
        let enc = encode(&noise);
        assert_eq!(enc[0], CODEC_RAW);
        assert_eq!(decode(enc).unwrap(), noise);
        assert!(decode(vec![9, 1, 2]).is_err());
        assert!(looks_random(&noise) && !looks_random(&text));
        // Base64 of random bytes (6 bits per byte) is not random-looking, and does compress.
        let b64: Vec<u8> = noise
            .iter()
            .map(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(b % 64) as usize])
            .collect();
        assert!(!looks_random(&b64));
        assert_eq!(encode(&b64)[0], CODEC_ZSTD);
    }

    #[test]
    fn put_get_list_delete_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalBlobStore::open(dir.path()).unwrap();
        let h = *blake3::hash(b"x").as_bytes();
        s.put(&h, b"\0x").unwrap();
        s.sync(&[h]).unwrap();
        assert_eq!(s.get(&h).unwrap().unwrap(), b"\0x");
        assert_eq!(s.list().unwrap(), vec![h]);
        s.quarantine(&h).unwrap();
        assert!(s.get(&h).unwrap().is_none());
        assert!(s.list().unwrap().is_empty());
        s.delete(&h).unwrap();
    }
}
