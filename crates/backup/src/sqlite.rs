//! A consistent copy of a live SQLite database with the online-backup API, taken in one step (one
//! read transaction: under WAL it never blocks the server's writers, and never restarts because of
//! them the way a paged backup does).

use crate::error::{BackupError, Result};
use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};
use std::time::Duration;

pub fn snapshot(src: &std::path::Path, dest: &std::path::Path) -> Result<()> {
    let source = Connection::open(src)?;
    source.busy_timeout(Duration::from_secs(10))?;
    let mut target = Connection::open(dest)?;
    {
        let backup = Backup::new(&source, &mut target)?;
        let mut waits = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    waits += 1;
                    if waits > 1000 {
                        return Err(BackupError::Verify(format!("{} stayed locked for 10 s", src.display())));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {}
            }
        }
    }
    // One self-contained file in the backup; the server turns WAL back on when it opens it.
    target.pragma_update(None, "journal_mode", "DELETE")?;
    check_integrity(&target, dest)?;
    drop(target);
    std::fs::File::open(dest)?.sync_all()?;
    Ok(())
}

pub fn check_integrity(conn: &Connection, path: &std::path::Path) -> Result<()> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(BackupError::Verify(format!("{} fails its integrity check: {verdict}", path.display())));
    }
    Ok(())
}
