//! Argon2id password hashes (PHC strings, the same as `argon2`'s `PasswordHasher`/`PasswordVerifier`
//! write and read) computed in one work buffer per thread that is kept, not allocated per hash.
//!
//! Why: each hash needs ~19 MiB of blocks. Allocated and freed per hash, glibc keeps them in the
//! thread's malloc arena, and small allocations made between two hashes split the freed space, so
//! the next hash goes above it: under load one hashing thread's arena grew to several 58 MiB heaps
//! (a flood of 120 failed logins grew RSS by 270–390 MiB on two threads). With the buffer kept, a
//! thread that hashes holds exactly one buffer, so memory is the number of hashing threads × 19 MiB.

use crate::error::{FileStoreError, Result};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;

thread_local! {
    /// This thread's Argon2 blocks (grown to the default parameters' size on first use).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with `count` blocks: this thread's kept buffer for the default size or less; a one-off
/// buffer for a (stored) hash with a larger memory cost, so the kept buffer never grows past it.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    if count > Params::DEFAULT.block_count() {
        return f(&mut vec![Block::default(); count]);
    }
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.resize(Params::DEFAULT.block_count(), Block::default());
        }
        f(&mut blocks[..count])
    })
}

fn invalid(e: impl std::fmt::Display) -> FileStoreError {
    FileStoreError::Invalid(e.to_string())
}

/// A new Argon2id hash (default parameters, random salt) as a PHC string.
pub(crate) fn hash(password: &str) -> Result<String> {
    let salt = quire_stdx::random::try_bytes::<16>().map_err(invalid)?;
    let salt_string = SaltString::encode_b64(&salt).map_err(invalid)?;
    let argon = Argon2::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(argon.params().block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
    })
    .map_err(invalid)?;
    let phc = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(argon.params()).map_err(invalid)?,
        salt: Some(salt_string.as_salt()),
        hash: Some(Output::new(&out).map_err(invalid)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (compared in constant time).
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else { return false };
    let (Some(expected), Some(salt)) = (phc.hash, phc.salt) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else { return false };
    let Ok(version) = phc.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
    let Ok(params) = Params::try_from(&phc) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = with_blocks(argon.params().block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_read_and_write_the_same_phc_strings_as_the_argon2_crate() {
        let ours = hash("correct horse").unwrap();
        let phc = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &phc).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &phc).is_err());
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
        let theirs = Argon2::default().hash_password(b"correct horse", &salt).unwrap().to_string();
        assert!(verify("correct horse", &theirs));
        assert!(!verify("wrong horse", &theirs));
        assert!(verify("correct horse", &ours));
        assert!(!verify("", &ours));
        assert_ne!(ours, hash("correct horse").unwrap(), "a fresh salt each time");
    }

    #[test]
    fn other_parameters_and_malformed_strings() {
        // A stored hash with a larger memory cost than the kept buffer, and one with a smaller.
        for m_cost in [Params::DEFAULT_M_COST * 2, 64] {
            let argon =
                Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(m_cost, 1, 1, None).unwrap());
            let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
            let stored = argon.hash_password(b"pw", &salt).unwrap().to_string();
            assert!(verify("pw", &stored), "m={m_cost}");
            assert!(!verify("px", &stored), "m={m_cost}");
        }
        assert_eq!(
            BLOCKS.with_borrow(Vec::len),
            Params::DEFAULT.block_count(),
            "the kept buffer stays at the default"
        );
        for bad in ["", "plain", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$", "$md5$x$y"] {
            assert!(!verify("pw", bad), "{bad}");
        }
    }
}
