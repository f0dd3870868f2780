//! The shared `.src.md` conformance documents, used in place: decode, re-encode, compare bytes.

use std::path::PathBuf;

use srcmd::{Cell, Form, Language, decode, default_tsconfig, encode};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/srcmd")
}

fn check(name: &str) {
    let text = std::fs::read_to_string(dir().join(name)).expect("read document");
    let mut nb = decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected_path = dir().join("expected").join(name);
    let expected = if expected_path.exists() {
        if nb.language == Language::Typescript && nb.tsconfig.is_none() {
            nb.tsconfig = Some(default_tsconfig());
        }
        std::fs::read_to_string(expected_path).expect("read expected")
    } else {
        text
    };
    assert_eq!(encode(&nb, Form::Inline), expected, "{name}");
    // And the fixed point.
    let again = decode(&expected).expect("decode expected");
    assert!(again.same_content(&nb), "{name}: decode(encode(n)) != n");
}

#[test]
fn srcbook_fixture() {
    check("srcbook.src.md");
}

#[test]
fn getting_started() {
    check("getting-started.src.md");
}

#[test]
fn websockets() {
    check("websockets.src.md");
}

#[test]
fn langgraph_web_agent() {
    check("langgraph-web-agent.src.md");
}

#[test]
fn every_document_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("conformance dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".src.md"))
        .collect();
    names.sort();
    for n in &names {
        check(n);
    }
    assert_eq!(names.len(), 4);
}

#[test]
fn srcbook_fixture_has_seven_cells() {
    let text = std::fs::read_to_string(dir().join("srcbook.src.md")).expect("read");
    let nb = decode(&text).expect("decode");
    let kinds: Vec<String> = nb
        .cells
        .iter()
        .map(|c| match c {
            Cell::Title(t) => format!("title:{}", t.text),
            Cell::PackageJson(_) => "package.json".into(),
            Cell::Markdown(m) => format!("markdown:{}", m.text.contains("```")),
            Cell::Code(c) => format!("code:{}", c.filename),
            Cell::Placeholder(_) => "placeholder".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "title:Srcbook title",
            "package.json",
            "markdown:false",
            "code:index.mjs",
            "markdown:true",
            "code:foo.mjs",
            "markdown:false"
        ]
    );
}
