//! `decode_dir`: a notebook directory (`README.md` in the external form plus files on disk).

use std::path::Path;

use crate::{Cell, DecodeError, Language, Notebook, decode};

fn read(path: &Path) -> Result<String, DecodeError> {
    std::fs::read_to_string(path).map_err(|e| DecodeError::one(format!("{}: {e}", path.display())))
}

/// Decode README.md, then fill sources from `package.json` and `src/<filename>` (paths come from the
/// already-validated cell filenames, never from link hrefs) and, for TypeScript, read `tsconfig.json`.
pub fn decode_dir(dir: &Path) -> Result<Notebook, DecodeError> {
    let mut nb = decode(&read(&dir.join("README.md"))?)?;
    for cell in &mut nb.cells {
        match cell {
            Cell::PackageJson(p) => p.source = read(&dir.join("package.json"))?,
            Cell::Code(c) => c.source = read(&dir.join("src").join(&c.filename))?,
            _ => {}
        }
    }
    if nb.language == Language::Typescript {
        nb.tsconfig = Some(read(&dir.join("tsconfig.json"))?);
    }
    Ok(nb)
}
