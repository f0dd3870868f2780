//! Notebook store and cell edits against a real directory: layout, persistence, failed writes roll back.

use quire_notebook::{CellUpdate, NotebookError, NotebookStore, lock};
use srcmd::{Cell, CellStatus, CodeCell, Language, MarkdownCell};
use std::fs;

fn code(id: &str, filename: &str, source: &str, language: Language) -> Cell {
    Cell::Code(CodeCell {
        id: id.into(),
        source: source.into(),
        language,
        filename: filename.into(),
        status: CellStatus::Running,
    })
}

fn reload(root: &std::path::Path, id: &str) -> srcmd::Notebook {
    let store = NotebookStore::open(root).unwrap();
    store.load_all().unwrap();
    assert!(store.failures().is_empty(), "{:?}", store.failures());
    let h = store.get(id).unwrap();
    lock(&h).nb.clone()
}

#[test]
fn edits_persist_across_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Book", Language::Typescript).unwrap();
    let mut nb = lock(&h);
    let id = nb.id.clone();
    nb.create_cell(2, code("a", "a.ts", "export const a = 1;\n", Language::Typescript)).unwrap();
    nb.create_cell(2, Cell::Markdown(MarkdownCell { id: "m".into(), text: "## Notes\n\ntext".into() }))
        .unwrap();
    nb.create_cell(9, code("b", "b.ts", "import { a } from './a.ts';\n", Language::Typescript)).unwrap();
    nb.update_cell("a", CellUpdate::Source("export const a = 2;\n".into())).unwrap();
    nb.rename_cell("a", "alpha.ts").unwrap();
    assert_eq!(nb.move_cell("b", 2).unwrap(), 2);
    assert!(matches!(nb.cell("a").unwrap(), Cell::Code(c) if c.status == CellStatus::Idle));
    let expected = nb.nb.clone();
    drop(nb);
    let dir = tmp.path().canonicalize().unwrap().join(&id);
    assert_eq!(fs::read_to_string(dir.join("src/alpha.ts")).unwrap(), "export const a = 2;\n");
    assert!(!dir.join("src/a.ts").exists());
    let again = reload(tmp.path(), &id);
    assert!(again.same_content(&expected), "{again:#?}\n{expected:#?}");
}

#[test]
fn a_failed_write_leaves_memory_and_disk_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Book", Language::Javascript).unwrap();
    let mut nb = lock(&h);
    nb.create_cell(2, code("a", "a.js", "old", Language::Javascript)).unwrap();
    let id = nb.id.clone();
    let file = nb.dir.join("src/a.js");
    // Replace the file by a directory: the atomic rename over it must fail.
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    let before = nb.nb.clone();
    let err = nb.update_cell("a", CellUpdate::Source("new".into())).unwrap_err();
    assert!(matches!(err, NotebookError::Io(_)), "{err:?}");
    assert_eq!(err.to_string(), "An error occurred persisting files to disk");
    assert_eq!(nb.nb, before);
    let readme = fs::read_to_string(nb.dir.join("README.md")).unwrap();
    assert!(readme.contains("[a.js](./src/a.js)"));
    // No temp files left behind.
    let leftovers: Vec<_> = fs::read_dir(nb.dir.join("src"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    drop(nb);
    drop(id);
}

#[test]
fn refusals_follow_srcbook_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Book", Language::Javascript).unwrap();
    let mut nb = lock(&h);
    nb.create_cell(2, code("a", "a.js", "", Language::Javascript)).unwrap();
    let msg = |e: NotebookError| e.to_string();
    assert_eq!(msg(nb.rename_cell("a", "a b.js").unwrap_err()), "a b.js is not a valid filename");
    assert_eq!(
        msg(nb.rename_cell("a", "a.ts").unwrap_err()),
        "File must have one of the following extensions: js,cjs,mjs"
    );
    nb.create_cell(2, code("b", "b.mjs", "", Language::Javascript)).unwrap();
    assert_eq!(msg(nb.rename_cell("a", "b.mjs").unwrap_err()), "A file named 'b.mjs' already exists");
    assert!(nb.rename_cell("a", "a.js").is_ok(), "same name is a no-op");
    let title = nb.nb.cells[0].id().to_string();
    assert_eq!(
        msg(nb.update_cell(&title, CellUpdate::Text("x".repeat(45))).unwrap_err()),
        "Title must be 44 characters or fewer"
    );
    let pkg = nb.nb.cells[1].id().to_string();
    assert!(matches!(nb.delete_cell(&pkg), Err(NotebookError::InvalidCell(_))));
    assert!(matches!(nb.delete_cell(&title), Err(NotebookError::InvalidCell(_))));
    assert!(matches!(nb.move_cell(&title, 3), Err(NotebookError::InvalidCell(_))));
    assert!(matches!(nb.update_cell("a", CellUpdate::Text("x".into())), Err(NotebookError::InvalidCell(_))));
    let h6 = Cell::Markdown(MarkdownCell { id: "m".into(), text: "###### x.js".into() });
    assert!(matches!(nb.create_cell(2, h6), Err(NotebookError::InvalidMarkdown(_))));
    // tsconfig must be a JSON object; the previous one stays.
    assert!(matches!(nb.update_tsconfig("{oops"), Err(NotebookError::InvalidTsconfig(_))));
}

#[test]
fn empty_markdown_is_kept_in_memory_but_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Book", Language::Javascript).unwrap();
    let mut nb = lock(&h);
    let id = nb.id.clone();
    nb.create_cell(2, Cell::Markdown(MarkdownCell { id: "m".into(), text: String::new() })).unwrap();
    nb.update_cell("m", CellUpdate::Text("  ".into())).unwrap();
    drop(nb);
    let again = reload(tmp.path(), &id);
    assert_eq!(again.cells.len(), 2, "title and package.json only");
}

#[test]
fn interrupted_creates_and_deletes_are_cleaned_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Keep", Language::Javascript).unwrap();
    let keep = lock(&h).id.clone();
    let gone = lock(&store.create("Gone", Language::Javascript).unwrap()).id.clone();
    store.delete(&gone).unwrap();
    fs::create_dir(tmp.path().join(format!(".tmp-{}", srcmd::new_cell_id()))).unwrap();
    fs::create_dir(tmp.path().join(".trash-x")).unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    assert_eq!(store.load_all().unwrap(), 1);
    assert!(store.get(&keep).is_ok());
    let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from(&keep)]);
}

#[test]
fn symlinked_sources_are_refused_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Book", Language::Javascript).unwrap();
    let mut nb = lock(&h);
    nb.create_cell(2, code("a", "a.js", "", Language::Javascript)).unwrap();
    let file = nb.dir.join("src/a.js");
    drop(nb);
    fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &file).unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    assert_eq!(store.load_all().unwrap(), 0);
    assert!(store.failures()[0].errors[0].contains("symbolic link"));
}

#[test]
fn adjacent_markdown_cells_survive_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let store = NotebookStore::open(tmp.path()).unwrap();
    let h = store.create("Book", Language::Javascript).unwrap();
    let mut nb = lock(&h);
    let id = nb.id.clone();
    nb.create_cell(2, Cell::Markdown(MarkdownCell { id: "m1".into(), text: "first".into() })).unwrap();
    nb.create_cell(3, Cell::Markdown(MarkdownCell { id: "m2".into(), text: "second".into() })).unwrap();
    let expected = nb.nb.clone();
    drop(nb);
    assert!(reload(tmp.path(), &id).same_content(&expected));
}
