//! Backup and restore of a real data directory (SQLite, notebooks, chunks) without a server; the
//! online case, with uploads running against a live server, is tested in crates/quire/tests/backup.rs.

use super::*;
use quire_filestore::{Actor, FileStore, NewFile};
use quire_notebook::db::prelude::*;
use quire_notebook::{NotebookStore, SqliteDatabase};
use quire_stdx::DataDir;
use std::io::Cursor;

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    data: DataDir,
    files: Vec<(String, Vec<u8>)>,
    notebook_id: String,
    partial_upload: String,
}

fn actor() -> Actor {
    Actor { user_id: "u1".into(), admin: false }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    std::fs::create_dir_all(data.root()).unwrap();
    let key = quire_notebook::seal::instance_key(&data, None).unwrap();
    let db = SqliteDatabase::open(&data.db(), key).unwrap();
    db.upsert_secret("API_TOKEN", "s3cret-value").unwrap();
    let store = NotebookStore::open(&data.notebooks()).unwrap();
    let nb = store.create("Backed up", srcmd::Language::Typescript).unwrap();
    let notebook_id = quire_notebook::lock(&nb).id.clone();
    std::fs::create_dir_all(data.notebooks().join(&notebook_id).join("node_modules/x")).unwrap();
    std::fs::write(data.notebooks().join(&notebook_id).join("node_modules/x/index.js"), "1").unwrap();
    let fs = FileStore::open(data.files(), Default::default()).unwrap();
    let mut files = Vec::new();
    for (i, size) in [0usize, 100, 5000, 3 << 20].into_iter().enumerate() {
        let bytes = noise(size, i as u64);
        let nf = NewFile {
            filename: format!("f{i}.bin"),
            content_type: "application/octet-stream".into(),
            ..Default::default()
        };
        let out = fs.put(&actor(), &mut Cursor::new(&bytes), nf, None).unwrap();
        files.push((out.file_id, bytes));
    }
    let up = fs.tus_create(&actor(), 10_000, vec![("filename".into(), "half.bin".into())]).unwrap();
    fs.tus_append(&actor(), &up.id, 0, &mut Cursor::new(noise(4000, 99)), None).unwrap();
    Fixture { _dir: dir, data, files, notebook_id, partial_upload: up.id }
}

#[test]
fn backup_then_restore_is_byte_exact_and_verified() {
    let f = fixture();
    let root = f.data.root().parent().unwrap();
    let report = backup(&f.data, &root.join("bk")).unwrap();
    assert_eq!(report.notebooks, 1);
    assert_eq!(report.files.files, 4);
    assert_eq!(report.files.uploads, 1);
    assert!(report.key_included);
    assert!(!root.join("bk/notebooks").join(&f.notebook_id).join("node_modules").exists());

    let restored = restore(&root.join("bk"), &DataDir::new(root.join("restored")), None).unwrap();
    assert!(restored.key_checked);
    assert!(restored.notebook_failures.is_empty(), "{:?}", restored.notebook_failures);
    assert!(!root.join("restored").join(RESTORE_MARKER).exists());
    let r = DataDir::new(root.join("restored"));

    let key = quire_notebook::seal::instance_key(&r, None).unwrap();
    let db = SqliteDatabase::open(&r.db(), key).unwrap();
    assert_eq!(db.secrets().unwrap()[0].value, "s3cret-value");
    let src_nb = f.data.notebooks().join(&f.notebook_id).join("README.md");
    let dst_nb = r.notebooks().join(&f.notebook_id).join("README.md");
    assert_eq!(std::fs::read(src_nb).unwrap(), std::fs::read(dst_nb).unwrap());

    let fs = FileStore::open(r.files(), Default::default()).unwrap();
    for (id, bytes) in &f.files {
        let rec = fs.file(&actor(), id).unwrap();
        let mut got = Vec::new();
        for piece in fs.read_range(rec, 0, u64::MAX).unwrap() {
            got.extend(piece.unwrap());
        }
        assert_eq!(&got, bytes, "file {id}");
    }
    // The half-finished tus upload resumes where it was.
    let rec = fs.tus_get(&actor(), &f.partial_upload).unwrap();
    assert_eq!(rec.offset, 4000);
    let rec =
        fs.tus_append(&actor(), &f.partial_upload, 4000, &mut Cursor::new(noise(6000, 7)), None).unwrap();
    assert!(rec.file_id.is_some());
}

#[test]
fn restore_refuses_a_damaged_backup_before_writing_anything() {
    let f = fixture();
    let root = f.data.root().parent().unwrap();
    backup(&f.data, &root.join("bk")).unwrap();
    let chunk = manifest::read(&root.join("bk"))
        .unwrap()
        .entries
        .into_iter()
        .find(|e| e.path.starts_with("files/chunks/"))
        .unwrap();
    let path = root.join("bk").join(&chunk.path);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = restore(&root.join("bk"), &DataDir::new(root.join("restored")), None).unwrap_err();
    assert!(matches!(err, BackupError::Damaged { ref path, .. } if *path == chunk.path), "{err}");
    assert!(!root.join("restored").exists());
}

#[test]
fn refuses_non_empty_targets_incomplete_backups_and_unsafe_paths() {
    let f = fixture();
    let root = f.data.root().parent().unwrap();
    std::fs::create_dir_all(root.join("full")).unwrap();
    std::fs::write(root.join("full/x"), "x").unwrap();
    assert!(matches!(backup(&f.data, &root.join("full")), Err(BackupError::NotEmpty(_))));
    assert!(matches!(
        backup(&DataDir::new(root.join("full")), &root.join("bk2")),
        Err(BackupError::Invalid(_))
    ));

    backup(&f.data, &root.join("bk")).unwrap();
    assert!(matches!(
        restore(&root.join("bk"), &DataDir::new(root.join("full")), None),
        Err(BackupError::NotEmpty(_))
    ));
    assert!(matches!(restore(&root.join("bk"), &f.data, None), Err(BackupError::NotEmpty(_))));

    let text = std::fs::read_to_string(root.join("bk").join(manifest::MANIFEST)).unwrap();
    let evil = text.replacen("\"path\": \"", "\"path\": \"../", 1);
    std::fs::write(root.join("bk").join(manifest::MANIFEST), evil).unwrap();
    assert!(matches!(
        restore(&root.join("bk"), &DataDir::new(root.join("r1")), None),
        Err(BackupError::NotABackup(_))
    ));
    std::fs::remove_file(root.join("bk").join(manifest::MANIFEST)).unwrap();
    let err = restore(&root.join("bk"), &DataDir::new(root.join("r2")), None).unwrap_err();
    assert!(err.to_string().contains("not a complete Quire backup"), "{err}");
}
