//! `quire admin …`: maintenance of a data directory — sign-outs, key rotation, backup and restore.

use crate::{SecretKey, data_dir_or_default};
use anyhow::bail;
use clap::Subcommand;
use quire_stdx::DataDir;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Sign every browser out now (works while the server runs).
    LogoutAll {
        /// Data directory. Default: ~/.quire
        #[arg(long, env = "QUIRE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        key: SecretKey,
    },
    /// Make a consistent copy of the data directory in DEST (new or empty) while the server runs:
    /// databases, instance key, notebooks (without node_modules) and stored files, all verified.
    Backup {
        /// Where to write the backup (must not exist, or be empty).
        dest: PathBuf,
        /// Data directory. Default: ~/.quire
        #[arg(long, env = "QUIRE_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Restore a backup made by `quire admin backup` into a new or empty data directory.
    Restore {
        /// The backup directory.
        src: PathBuf,
        /// Data directory to restore into (must not exist, or be empty). Default: ~/.quire
        #[arg(long, env = "QUIRE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        key: SecretKey,
    },
    /// Re-encrypt every secret and AI key under a new instance key (DATA_DIR/secret.key).
    RotateKey {
        /// Data directory. Default: ~/.quire
        #[arg(long, env = "QUIRE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        key: SecretKey,
    },
}

/// Held by `quire serve` for its lifetime; admin commands that rewrite the database need it free.
pub fn lock_data_dir(data_dir: &DataDir) -> anyhow::Result<std::fs::File> {
    let f =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(data_dir.lock_file())?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(_) => bail!("{} is in use by a running quire server; stop it first", data_dir.root().display()),
    }
}

pub fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::LogoutAll { data_dir, key } => {
            use quire_notebook::db::prelude::*;
            let data_dir = data_dir_or_default(data_dir)?;
            let key = quire_notebook::seal::instance_key(&data_dir, key.secret_key.as_deref())?;
            let n = quire_notebook::SqliteDatabase::open(&data_dir.db(), key)?.sessions_clear()?;
            println!("Signed out {n} browser sessions");
            Ok(())
        }
        AdminCommand::Backup { dest, data_dir } => {
            let data_dir = data_dir_or_default(data_dir)?;
            let r = quire_backup::backup(&data_dir, &dest)?;
            println!(
                "Backed up {} notebooks and {} files ({} chunks, {} unfinished uploads) to {}: {} files, {:.1} MiB, {:.2} s",
                r.notebooks,
                r.files.files,
                r.files.chunks,
                r.files.uploads,
                dest.display(),
                r.entries,
                r.bytes as f64 / 1048576.0,
                r.took.as_secs_f64()
            );
            if !r.key_included {
                println!(
                    "Note: secrets are sealed with --secret-key (QUIRE_SECRET_KEY), which is not in the backup; keep it safe."
                );
            } else {
                println!(
                    "Note: the backup holds the instance key (secret.key); store it as privately as the data."
                );
            }
            Ok(())
        }
        AdminCommand::Restore { src, data_dir, key } => {
            let data_dir = data_dir_or_default(data_dir)?;
            let r = quire_backup::restore(&src, &data_dir, key.secret_key.as_deref())?;
            println!(
                "Restored {} notebooks and {} files ({:.1} MiB) into {} in {:.2} s; everything verified",
                r.notebooks,
                r.files,
                r.bytes as f64 / 1048576.0,
                data_dir.root().display(),
                r.took.as_secs_f64()
            );
            for (id, error) in &r.notebook_failures {
                println!("Warning: notebook {id} does not load: {error}");
            }
            if !r.key_checked {
                println!(
                    "Note: no instance key in the backup: serve with the same --secret-key (QUIRE_SECRET_KEY) as before."
                );
            }
            Ok(())
        }
        AdminCommand::RotateKey { data_dir, key } => {
            let data_dir = data_dir_or_default(data_dir)?;
            if key.secret_key.is_some() {
                bail!(
                    "--secret-key (QUIRE_SECRET_KEY) is set: the key comes from outside the data dir; rotate it there"
                );
            }
            let _lock = lock_data_dir(&data_dir)?;
            let n = quire_notebook::seal::rotate(&data_dir)?;
            println!("Re-encrypted {n} values under a new key in {}", data_dir.secret_key().display());
            Ok(())
        }
    }
}

/// A restore cut short leaves a marker; serving that directory would show half the data.
pub fn refuse_unfinished_restore(data_dir: &DataDir) -> anyhow::Result<()> {
    if data_dir.restore_marker().exists() {
        bail!(
            "{} holds an unfinished restore ({} is present); restore again into an empty directory",
            data_dir.root().display(),
            quire_stdx::RESTORE_MARKER
        );
    }
    Ok(())
}
