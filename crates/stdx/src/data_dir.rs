//! Every file and folder of the data directory, named once. Crates take a `DataDir` (or a path it hands
//! out) and never join these names by hand; renaming one here is an on-disk format change.

use std::path::{Path, PathBuf};

/// A directory of a known layout: `new`, `root` and conversions from a path.
macro_rules! layout {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(PathBuf);

        impl $name {
            pub fn new(root: impl Into<PathBuf>) -> Self {
                $name(root.into())
            }

            pub fn root(&self) -> &Path {
                &self.0
            }
        }

        impl From<PathBuf> for $name {
            fn from(root: PathBuf) -> Self {
                $name(root)
            }
        }

        impl From<&Path> for $name {
            fn from(root: &Path) -> Self {
                $name(root.to_path_buf())
            }
        }
    };
}

layout!(
    /// The data directory (`--data-dir`, default `~/.quire`).
    DataDir
);
layout!(
    /// The file store's directory (`DATA_DIR/files`).
    FilesDir
);

impl DataDir {
    /// Settings, secrets, sessions, stamps, the audit log (SQLite).
    pub fn db(&self) -> PathBuf {
        self.0.join("quire.db")
    }

    /// Held (flock) by a serving or maintaining process.
    pub fn lock_file(&self) -> PathBuf {
        self.0.join("quire.lock")
    }

    /// The instance key (0600), unless `--secret-key` gives it.
    pub fn secret_key(&self) -> PathBuf {
        self.0.join("secret.key")
    }

    /// The user's MCP servers (`{"mcpServers": …}`, values of `env` and `headers` sealed).
    pub fn mcp_config(&self) -> PathBuf {
        self.0.join("mcp.json")
    }

    /// The next instance key while a rotation is in progress.
    pub fn next_secret_key(&self) -> PathBuf {
        self.0.join("secret.key.next")
    }

    /// Both instance key files (the second exists only mid-rotation): private, carried in backups.
    pub fn key_files(&self) -> [PathBuf; 2] {
        [self.secret_key(), self.next_secret_key()]
    }

    /// One directory per notebook, in the Srcbook layout.
    pub fn notebooks(&self) -> PathBuf {
        self.0.join("notebooks")
    }

    /// The file store (its own layout: `FilesDir`).
    pub fn files(&self) -> FilesDir {
        FilesDir::new(self.0.join("files"))
    }

    /// Rebuildable caches (TypeScript install, run directories).
    pub fn cache(&self) -> PathBuf {
        self.0.join("cache")
    }

    /// Per-run shadow directories of cell runs (cleared at start).
    pub fn run_cache(&self) -> PathBuf {
        self.cache().join("run")
    }

    /// The Node host scripts, written at start.
    pub fn runtime(&self) -> PathBuf {
        self.0.join("runtime")
    }

    /// The bundled example notebooks, written at start.
    pub fn examples(&self) -> PathBuf {
        self.0.join("examples")
    }

    /// The 0600 page the browser is opened on (it holds the token; removed once used).
    pub fn open_page(&self) -> PathBuf {
        self.0.join("open.html")
    }

    /// Present while a restore into this directory has not finished.
    pub fn restore_marker(&self) -> PathBuf {
        self.0.join(RESTORE_MARKER)
    }

    /// The config file read by `serve` when present.
    pub fn config_file(&self) -> PathBuf {
        self.0.join("quire.toml")
    }

    /// A file `quire doctor` writes and removes to see that the directory is writable.
    pub fn doctor_probe(&self) -> PathBuf {
        self.0.join(".doctor-probe")
    }
}

/// The name of `DataDir::restore_marker` (backups refuse to copy it).
pub const RESTORE_MARKER: &str = "restore-incomplete";

impl FilesDir {
    /// Manifests, users, tus state (SQLite).
    pub fn db(&self) -> PathBuf {
        self.0.join("files.db")
    }

    /// Chunk bodies, `chunks/<2 hex>/<64 hex>`.
    pub fn chunks(&self) -> PathBuf {
        self.0.join("chunks")
    }

    /// tus uploads in progress, `uploads/<id>.part`.
    pub fn uploads(&self) -> PathBuf {
        self.0.join("uploads")
    }

    pub fn upload_part(&self, id: &str) -> PathBuf {
        self.uploads().join(format!("{id}.part"))
    }

    /// A chunk by its 64-hex-digit hash: `chunks/<first two digits>/<hash>`.
    pub fn chunk(&self, hash_hex: &str) -> PathBuf {
        self.chunks().join(hash_hex.get(..2).unwrap_or(hash_hex)).join(hash_hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_on_disk_format() {
        let d = DataDir::new("/d");
        let names = [
            d.db(),
            d.lock_file(),
            d.secret_key(),
            d.next_secret_key(),
            d.notebooks(),
            d.cache(),
            d.run_cache(),
            d.runtime(),
            d.examples(),
            d.open_page(),
            d.restore_marker(),
            d.config_file(),
            d.doctor_probe(),
            d.files().db(),
            d.files().chunks(),
            d.files().upload_part("u1"),
            d.files().chunk("ab12"),
        ];
        let names: Vec<_> = names.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "/d/quire.db",
                "/d/quire.lock",
                "/d/secret.key",
                "/d/secret.key.next",
                "/d/notebooks",
                "/d/cache",
                "/d/cache/run",
                "/d/runtime",
                "/d/examples",
                "/d/open.html",
                "/d/restore-incomplete",
                "/d/quire.toml",
                "/d/.doctor-probe",
                "/d/files/files.db",
                "/d/files/chunks",
                "/d/files/uploads/u1.part",
                "/d/files/chunks/ab/ab12",
            ]
        );
    }
}
