//! Resources: each notebook as `.src.md` text and each cell's source, listed and read.

use crate::ops::title_of;
use quire_notebook::lock;
use quire_service::NotebookService;
use rmcp::ErrorData;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};
use serde_json::json;
use srcmd::Cell;

const PREFIX: &str = "quire://notebooks/";

fn notebook_uri(id: &str) -> String {
    format!("{PREFIX}{id}.src.md")
}

fn cell_uri(id: &str, cell_id: &str) -> String {
    format!("{PREFIX}{id}/cells/{cell_id}")
}

/// Where a URI points: a notebook, or one cell of it.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Notebook(&'a str),
    Cell(&'a str, &'a str),
}

fn parse(uri: &str) -> Option<Target<'_>> {
    let rest = uri.strip_prefix(PREFIX)?;
    if let Some(id) = rest.strip_suffix(".src.md")
        && !id.is_empty()
        && !id.contains('/')
    {
        return Some(Target::Notebook(id));
    }
    let (id, cell) = rest.split_once("/cells/")?;
    (!id.is_empty() && !cell.is_empty() && !id.contains('/') && !cell.contains('/'))
        .then_some(Target::Cell(id, cell))
}

fn source(cell: &Cell) -> (&str, &'static str) {
    match cell {
        Cell::Title(c) => (&c.text, "text/markdown"),
        Cell::Markdown(c) => (&c.text, "text/markdown"),
        Cell::Placeholder(c) => (&c.text, "text/markdown"),
        Cell::PackageJson(c) => (&c.source, "application/json"),
        Cell::Code(c)
            if c.filename.ends_with(".js")
                || c.filename.ends_with(".mjs")
                || c.filename.ends_with(".cjs") =>
        {
            (&c.source, "text/javascript")
        }
        Cell::Code(c) => (&c.source, "text/typescript"),
    }
}

fn cell_name(cell: &Cell) -> String {
    match cell {
        Cell::Code(c) => c.filename.clone(),
        Cell::PackageJson(_) => "package.json".into(),
        Cell::Title(_) => "title".into(),
        Cell::Markdown(_) | Cell::Placeholder(_) => format!("markdown {}", cell.id()),
    }
}

/// Every notebook and every cell.
pub fn list(svc: &NotebookService) -> Vec<Resource> {
    let mut out = Vec::new();
    for h in svc.store.list() {
        let nb = lock(&h);
        let title = title_of(&nb.nb);
        out.push(
            Resource::new(notebook_uri(&nb.id), format!("{title}.src.md"))
                .with_title(title.clone())
                .with_description("The notebook as .src.md text")
                .with_mime_type("text/markdown"),
        );
        for cell in &nb.nb.cells {
            let (_, mime) = source(cell);
            out.push(
                Resource::new(cell_uri(&nb.id, cell.id()), cell_name(cell))
                    .with_description(format!("A cell of {title}"))
                    .with_mime_type(mime),
            );
        }
    }
    out
}

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(format!("{PREFIX}{{notebookId}}.src.md"), "notebook")
            .with_description("A notebook as .src.md text")
            .with_mime_type("text/markdown"),
        ResourceTemplate::new(format!("{PREFIX}{{notebookId}}/cells/{{cellId}}"), "cell")
            .with_description("One cell's source"),
    ]
}

fn not_found(uri: &str, why: impl std::fmt::Display) -> ErrorData {
    ErrorData::resource_not_found(format!("{why}"), Some(json!({"uri": uri, "code": "resource_not_found"})))
}

pub fn read(svc: &NotebookService, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let target = parse(uri).ok_or_else(|| not_found(uri, format!("No resource {uri}")))?;
    let id = match target {
        Target::Notebook(id) | Target::Cell(id, _) => id,
    };
    let h = svc.store.get(id).map_err(|e| not_found(uri, e))?;
    let nb = lock(&h);
    let contents = match target {
        Target::Notebook(_) => ResourceContents::text(srcmd::encode(&nb.nb, srcmd::Form::Inline), uri)
            .with_mime_type("text/markdown"),
        Target::Cell(_, cell_id) => {
            let cell = nb.cell(cell_id).map_err(|e| not_found(uri, e))?;
            let (text, mime) = source(cell);
            ResourceContents::text(text, uri).with_mime_type(mime)
        }
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(parse("quire://notebooks/abc.src.md"), Some(Target::Notebook("abc")));
        assert_eq!(parse("quire://notebooks/abc/cells/c1"), Some(Target::Cell("abc", "c1")));
        assert_eq!(parse("quire://notebooks/.src.md"), None);
        assert_eq!(parse("quire://notebooks/a/b.src.md"), None);
        assert_eq!(parse("quire://notebooks/a/cells/"), None);
        assert_eq!(parse("quire://notebooks/a/cells/x/y"), None);
        assert_eq!(parse("file:///etc/passwd"), None);
        assert_eq!(parse(&notebook_uri("n1")), Some(Target::Notebook("n1")));
        assert_eq!(parse(&cell_uri("n1", "c2")), Some(Target::Cell("n1", "c2")));
    }
}
