//! Cell ids that survive a restart. `.src.md` has no place for them (and Srcbook's output must stay
//! byte-identical), yet clients address cells by id, and the stock client picks the id of a cell it
//! creates: an edit re-sent after a restart must land in the cell the client knows. So every write of
//! README.md is followed by `.quire-cells.json` beside it, listing each cell's id with what identifies
//! it in the file (kind, filename, a hash of markdown text). Loading matches the decoded cells to that
//! list; a crash between the two writes, or a README edited by hand, still matches every cell that is
//! recognisable (code by filename, markdown by text, then by order), and only new cells get new ids.

use crate::fsx;
use serde::{Deserialize, Serialize};
use srcmd::{Cell, Notebook};
use std::path::Path;

pub const FILE: &str = ".quire-cells.json";

#[derive(Serialize, Deserialize)]
struct Sidecar {
    version: u32,
    cells: Vec<Entry>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct Entry {
    id: String,
    kind: String,
    /// Filename for code cells, BLAKE3 of the text for title and markdown cells.
    key: String,
}

fn entry(c: &Cell) -> Entry {
    let text_key = |t: &str| blake3::hash(t.as_bytes()).to_hex()[..32].to_string();
    let (kind, key) = match c {
        Cell::Title(t) => ("title", text_key(&t.text)),
        Cell::Markdown(m) => ("markdown", text_key(&m.text)),
        Cell::PackageJson(_) => ("package.json", String::new()),
        Cell::Code(c) => ("code", c.filename.clone()),
        Cell::Placeholder(_) => ("placeholder", String::new()),
    };
    Entry { id: c.id().to_string(), kind: kind.into(), key }
}

/// Ids a client may choose (see `edit::is_valid_client_cell_id`); anything else in the file is ignored.
fn usable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Record the notebook's cell ids (after README.md was written).
pub fn write(dir: &Path, nb: &Notebook) -> std::io::Result<()> {
    let s = Sidecar { version: 1, cells: nb.cells.iter().map(entry).collect() };
    let bytes = serde_json::to_vec(&s).map_err(std::io::Error::other)?;
    fsx::write_atomic(&dir.join(FILE), &bytes)
}

/// Give the decoded cells their recorded ids. Returns whether any cell got a new id (the caller then
/// records the new ones, so they are stable from now on).
pub fn restore(dir: &Path, nb: &mut Notebook) -> bool {
    let recorded: Vec<Entry> = std::fs::read(dir.join(FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
        .map(|s| s.cells.into_iter().filter(|e| usable(&e.id)).collect())
        .unwrap_or_default();
    assign(&recorded, &mut nb.cells)
}

fn assign(recorded: &[Entry], cells: &mut [Cell]) -> bool {
    let mut used = vec![false; recorded.len()];
    let mut given: Vec<Option<usize>> = vec![None; cells.len()];
    // Same kind and key (code by filename, markdown by text), first unused in order.
    for (i, c) in cells.iter().enumerate() {
        let want = entry(c);
        let title_or_pkg = matches!(c, Cell::Title(_) | Cell::PackageJson(_));
        let found = (0..recorded.len()).find(|&j| {
            !used[j] && recorded[j].kind == want.kind && (title_or_pkg || recorded[j].key == want.key)
        });
        if let Some(j) = found {
            used[j] = true;
            given[i] = Some(j);
        }
    }
    // A markdown cell whose text changed since the list was written: an unused markdown id recorded
    // between the ids of its matched neighbours (so an inserted cell never takes a later one's id).
    for i in 0..cells.len() {
        if given[i].is_none() && matches!(cells[i], Cell::Markdown(_)) {
            let lo = given[..i].iter().flatten().max().map_or(0, |j| j + 1);
            let hi = given[i + 1..].iter().flatten().min().copied().unwrap_or(recorded.len());
            if let Some(j) = (lo..hi.max(lo)).find(|&j| !used[j] && recorded[j].kind == "markdown") {
                used[j] = true;
                given[i] = Some(j);
            }
        }
    }
    let mut fresh = false;
    for (c, g) in cells.iter_mut().zip(given) {
        match g {
            Some(j) => c.set_id(recorded[j].id.clone()),
            None => fresh = true, // keeps the id the decoder gave it
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nb(doc: &str) -> Notebook {
        srcmd::decode(doc).unwrap()
    }

    const DOC: &str = "<!-- srcbook:{\"language\":\"javascript\"} -->\n\n# T\n\n###### package.json\n\n```json\n{}\n```\n\nIntro\n\n###### a.js\n\n```javascript\n1\n```\n\nMiddle\n\n###### b.js\n\n```javascript\n2\n```\n";

    fn ids(n: &Notebook) -> Vec<String> {
        n.cells.iter().map(|c| c.id().to_string()).collect()
    }

    #[test]
    fn ids_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let first = nb(DOC);
        write(dir.path(), &first).unwrap();
        let mut again = nb(DOC);
        assert_ne!(ids(&again), ids(&first), "the decoder makes new ids");
        assert!(!restore(dir.path(), &mut again));
        assert_eq!(ids(&again), ids(&first));
    }

    #[test]
    fn a_readme_newer_than_the_list_still_matches_what_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let old = nb(DOC);
        write(dir.path(), &old).unwrap();
        // Edited by hand: a markdown cell inserted first, "Middle" reworded, b.js moved before a.js.
        let edited = DOC
            .replace("Intro", "New\n\n###### c.js\n\n```javascript\n3\n```\n\nIntro")
            .replace("Middle", "Middle, reworded");
        let mut cur = nb(&edited);
        assert!(restore(dir.path(), &mut cur), "the new cells got new ids");
        let find = |n: &Notebook, pred: &dyn Fn(&Cell) -> bool| {
            n.cells.iter().find(|c| pred(c)).unwrap().id().to_string()
        };
        let code = |name: &'static str| move |c: &Cell| matches!(c, Cell::Code(x) if x.filename == name);
        let md =
            |text: &'static str| move |c: &Cell| matches!(c, Cell::Markdown(m) if m.text.starts_with(text));
        assert_eq!(find(&cur, &code("a.js")), find(&old, &code("a.js")));
        assert_eq!(find(&cur, &code("b.js")), find(&old, &code("b.js")));
        assert_eq!(find(&cur, &md("Intro")), find(&old, &md("Intro")));
        assert_eq!(find(&cur, &md("Middle")), find(&old, &md("Middle")), "by order when the text changed");
        let all = ids(&old);
        assert!(!all.contains(&find(&cur, &code("c.js"))));
        assert!(!all.contains(&find(&cur, &md("New"))));
        assert_eq!(cur.cells[0].id(), old.cells[0].id(), "the title");
    }

    #[test]
    fn a_damaged_list_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        let mut n = nb(DOC);
        let before = ids(&n);
        assert!(restore(dir.path(), &mut n));
        assert_eq!(ids(&n), before);
    }
}
