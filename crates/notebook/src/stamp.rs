//! Notebook stamps: approval of a notebook's content, so its secret links are honoured only for code
//! the user wrote or approved here. A stamp is a MAC (BLAKE3 keyed with a key derived from the instance
//! key) over the notebook id and its content digest; a notebook changed outside Quire, or copied in from
//! elsewhere, has no matching stamp, and its runs get no secrets until the user approves it.

use crate::error::Result;
use crate::seal::SealKey;
use rusqlite::{Connection, OptionalExtension, params};

const PURPOSE: &str = "quire notebook stamp v1";

use quire_stdx::hex::encode as hex;

fn mac(key: &SealKey, notebook_id: &str, digest: &str) -> String {
    hex(&key.mac(PURPOSE, format!("{notebook_id}\0{digest}").as_bytes()))
}

pub fn write(conn: &Connection, key: &SealKey, notebook_id: &str, digest: &[u8; 32]) -> Result<()> {
    let digest = hex(digest);
    conn.execute(
        "INSERT INTO stamps (notebook_id, digest, mac) VALUES (?1, ?2, ?3)
         ON CONFLICT(notebook_id) DO UPDATE SET digest = excluded.digest, mac = excluded.mac",
        params![notebook_id, digest, mac(key, notebook_id, &digest)],
    )?;
    Ok(())
}

pub fn matches(conn: &Connection, key: &SealKey, notebook_id: &str, digest: &[u8; 32]) -> Result<bool> {
    let row: Option<(String, String)> = conn
        .query_row("SELECT digest, mac FROM stamps WHERE notebook_id = ?1", params![notebook_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let digest = hex(digest);
    // Both must hold: the stored digest is this content, and the stamp was made with this key.
    Ok(row.is_some_and(|(d, m)| d == digest && m == mac(key, notebook_id, &d)))
}

/// Re-make every valid stamp under `next` (key rotation); invalid ones stay invalid.
pub fn rekey(conn: &Connection, current: &SealKey, next: &SealKey) -> Result<()> {
    let rows: Vec<(String, String, String)> = conn
        .prepare("SELECT notebook_id, digest, mac FROM stamps")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, digest, m) in rows {
        if m == mac(current, &id, &digest) {
            conn.execute(
                "UPDATE stamps SET mac = ?1 WHERE notebook_id = ?2",
                params![mac(next, &id, &digest), id],
            )?;
        }
    }
    Ok(())
}
