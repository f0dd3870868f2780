//! The edge cases of srcmd-format.md §8, one test each, plus Quire's choices.

use srcmd::*;

const META_JS: &str = "<!-- srcbook:{\"language\":\"javascript\"} -->";

fn doc(body: &str) -> String {
    format!("{META_JS}\n\n# T\n\n{body}")
}

fn errors(text: &str) -> Vec<String> {
    decode(text).expect_err("should fail").errors
}

fn code(source: &str, filename: &str) -> Cell {
    Cell::Code(CodeCell {
        id: new_cell_id(),
        source: source.into(),
        language: language_of_filename(filename).unwrap_or(Language::Javascript),
        filename: filename.into(),
        status: CellStatus::Idle,
    })
}

fn nb(cells: Vec<Cell>) -> Notebook {
    let mut all = vec![Cell::Title(TitleCell { id: new_cell_id(), text: "T".into() })];
    all.extend(cells);
    Notebook { language: Language::Javascript, cells: all, tsconfig: None }
}

fn md(text: &str) -> Cell {
    Cell::Markdown(MarkdownCell { id: new_cell_id(), text: text.into() })
}

#[test]
fn case01_metadata_whitespace() {
    let t = "<!--  srcbook: {\"language\": \"javascript\"}  -->\n\n# T\n";
    assert_eq!(decode(t).expect("ok").language, Language::Javascript);
}

#[test]
fn case02_missing_or_bad_metadata() {
    assert_eq!(errors("# T\n"), ["Srcbook does not contain required metadata"]);
    let e = errors("<!-- srcbook:{nope} -->\n\n# T\n");
    assert!(e[0].starts_with("Unable to parse srcbook metadata: "), "{e:?}");
    let e = errors("<!-- srcbook:{\"language\":\"python\"} -->\n\n# T\n");
    assert!(e[0].starts_with("Unable to parse srcbook metadata: "), "{e:?}");
    assert_eq!(e.len(), 1);
}

#[test]
fn case03_metadata_not_first() {
    let n = decode(&format!("# T\n\n{META_JS}\n\nText\n")).expect("ok");
    assert_eq!(n.cells.len(), 2);
    assert!(matches!(&n.cells[1], Cell::Markdown(m) if m.text == "Text"));
}

#[test]
fn case04_tsconfig_object() {
    let t = "<!-- srcbook:{\"language\":\"typescript\",\"tsconfig.json\":{\"a\":[1],\"b\":{}}} -->\n\n# T\n";
    let n = decode(t).expect("ok");
    assert_eq!(n.tsconfig.as_deref(), Some("{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}"));
    assert_eq!(encode(&n, Form::Inline), t);
    assert!(!encode(&n, Form::External).contains("tsconfig"));
    // A tsconfig that is not JSON, or a JavaScript notebook, is not written.
    let mut js = n.clone();
    js.language = Language::Javascript;
    assert!(!encode(&js, Form::Inline).contains("tsconfig"));
    let mut bad = n;
    bad.tsconfig = Some("{not json".into());
    assert!(!encode(&bad, Form::Inline).contains("tsconfig"));
}

#[test]
fn case05_h1_rules() {
    let h1 = "Document must contain exactly one h1 heading";
    assert_eq!(errors(&format!("{META_JS}\n\nText\n")), [h1]);
    assert_eq!(errors(&format!("{META_JS}\n\n## Sub\n\n# T\n")), [h1]);
    assert_eq!(errors(&format!("{META_JS}\n\n# A\n\n# B\n")), [h1]);
    let n = decode(&format!("{META_JS}\n\nSetext title\n===\n")).expect("ok");
    assert!(matches!(&n.cells[0], Cell::Title(t) if t.text == "Setext title"));
}

#[test]
fn case06_h2_to_h5_and_bare_fences_stay_markdown() {
    let body = "## a\n\n### b\n\n#### c\n\n##### d\n\n```js\nx\n\n\n\ny\n```";
    let n = decode(&doc(body)).expect("ok");
    assert_eq!(n.cells.len(), 2);
    assert!(matches!(&n.cells[1], Cell::Markdown(m) if m.text == body));
}

#[test]
fn case07_whitespace_groups_dropped_and_newlines_collapse() {
    let n = decode(&format!("{META_JS}\n\n# T\n\n\n\n\nA\n\n\n\nB\n\n\n")).expect("ok");
    assert_eq!(n.cells.len(), 2);
    assert!(matches!(&n.cells[1], Cell::Markdown(m) if m.text == "A\n\nB"));
}

#[test]
fn case08_h6_errors() {
    assert_eq!(
        errors(&doc("###### a.mjs\n\nprose\n")),
        ["h6 is reserved for code cells, but no code block followed '###### a.mjs'"]
    );
    assert_eq!(
        errors(&doc("###### last.mjs   \n")),
        ["h6 is reserved for code cells, but no code block followed '###### last.mjs'"]
    );
    let two = "###### package.json\n\n```json\n{}\n```\n\n###### package.json\n\n```json\n{}\n```\n";
    assert_eq!(errors(&doc(two)), ["Document must contain at most one package.json"]);
    let many = format!("{META_JS}\n\n## no title\n\n{two}\n###### x.mjs\n\ntext\n");
    assert_eq!(
        errors(&many),
        [
            "Document must contain exactly one h1 heading",
            "Document must contain at most one package.json",
            "h6 is reserved for code cells, but no code block followed '###### x.mjs'"
        ]
    );
}

#[test]
fn case09_links() {
    let n =
        decode(&doc("###### a.mjs\n\n[a.mjs](./src/elsewhere.mjs)\n\n[b.mjs](./src/b.mjs)\n")).expect("ok");
    assert!(matches!(&n.cells[1], Cell::Code(c) if c.filename == "a.mjs" && c.source.is_empty()));
    assert!(matches!(&n.cells[2], Cell::Markdown(m) if m.text == "[b.mjs](./src/b.mjs)"));
}

#[test]
fn case10_extensions() {
    assert_eq!(
        errors(&doc("###### a.py\n\n```python\nx\n```\n")),
        ["Language is not one of 'javascript' or 'typescript' based on filename 'a.py'"]
    );
    // Quire's choice: a .ts cell in a JavaScript notebook is accepted, its language from the extension.
    let n = decode(&doc("###### a.ts\n\n```typescript\nlet x: number = 1;\n```\n")).expect("ok");
    assert_eq!(n.language, Language::Javascript);
    assert!(matches!(&n.cells[1], Cell::Code(c) if c.language == Language::Typescript));
}

#[test]
fn case11_bad_and_duplicate_filenames() {
    for name in ["../x.mjs", "a/b.mjs", "a b.mjs"] {
        let e = errors(&doc(&format!("###### {name}\n\n```js\nx\n```\n")));
        assert_eq!(e, [format!("'{name}' is not a valid filename")], "{name}");
    }
    // Backticks make the extension `mjs``, so upstream's language error comes first.
    let e = errors(&doc("###### `a.mjs`\n\n```js\nx\n```\n"));
    assert_eq!(e, ["Language is not one of 'javascript' or 'typescript' based on filename '`a.mjs`'"]);
    let e = errors(&doc("###### a.mjs\n\n```js\n1\n```\n\n###### a.mjs\n\n```js\n2\n```\n"));
    assert_eq!(e, ["Duplicate filename 'a.mjs'"]);
}

#[test]
fn case12_output_shape() {
    let n = decode(&format!("{META_JS}\n\n# T\n\n  Text  \n\n\n\n")).expect("ok");
    assert!(matches!(&n.cells[1], Cell::Markdown(m) if m.text == "Text"));
    let out = encode(&n, Form::Inline);
    assert!(out.ends_with("Text\n") && !out.ends_with("\n\n"));
}

#[test]
fn case13_sources_round_trip() {
    for src in ["a\n", "", "a", "\n\n", "x\n\n"] {
        let n = nb(vec![code(src, "a.mjs")]);
        let back = decode(&encode(&n, Form::Inline)).expect("ok");
        assert!(back.same_content(&n), "{src:?}");
    }
}

#[test]
fn case14_backtick_lines_get_longer_fence() {
    let src = "const s = `\n```\n`;\n````";
    let n = nb(vec![code(src, "a.mjs")]);
    let out = encode(&n, Form::Inline);
    assert!(out.contains("`````javascript\n"));
    assert!(decode(&out).expect("ok").same_content(&n));
    // Canonical sources keep Srcbook's three backticks.
    assert!(encode(&nb(vec![code("x", "a.mjs")]), Form::Inline).contains("\n```javascript\nx\n```"));
}

#[test]
fn case15_tilde_and_indented_code() {
    let n = decode(&doc("###### a.mjs\n\n~~~\nx\n~~~\n\n###### b.mjs\n\n    y\n")).expect("ok");
    assert!(matches!(&n.cells[1], Cell::Code(c) if c.source == "x"));
    assert!(matches!(&n.cells[2], Cell::Code(c) if c.source == "y"));
}

#[test]
fn case16_crlf() {
    let t = doc("###### a.mjs\n\n```js\nx\ny\n```\n").replace('\n', "\r\n");
    let n = decode(&t).expect("ok");
    assert!(matches!(&n.cells[1], Cell::Code(c) if c.source == "x\ny"));
}

#[test]
fn case17_order_kept() {
    let body = "Intro\n\n###### package.json\n\n```json\n{}\n```\n\n###### a.mjs\n\n```javascript\nx\n```\n";
    let t = doc(body);
    let n = decode(&t).expect("ok");
    assert!(matches!(&n.cells[1], Cell::Markdown(_)));
    assert!(matches!(&n.cells[2], Cell::PackageJson(_)));
    assert_eq!(encode(&n, Form::Inline), t);
    // No package.json at all: accepted, and nothing invented.
    let t = doc("###### a.mjs\n\n```javascript\nx\n```\n");
    assert_eq!(encode(&decode(&t).expect("ok"), Form::Inline), t);
}

#[test]
fn case18_non_ascii() {
    let t =
        format!("{META_JS}\n\n# Tïtle 🎉\n\nМаркдаун 日本\n\n###### a.mjs\n\n```javascript\n'ü🎉'\n```\n");
    assert_eq!(encode(&decode(&t).expect("ok"), Form::Inline), t);
}

#[test]
fn case19_placeholder_and_partial_decode() {
    let mut n = nb(vec![Cell::Placeholder(PlaceholderCell { id: "p".into(), text: "  ==PLACE==  ".into() })]);
    n.cells.push(md("after"));
    assert!(encode(&n, Form::Inline).contains("\n\n  ==PLACE==  \n\nafter\n"));
    let cells = decode_cells("Some text\n\n###### a.mjs\n\n```js\nx\n```\n").expect("ok");
    assert_eq!(cells.len(), 2);
    assert_eq!(
        decode_cells("###### a.mjs\n").expect_err("h6").errors,
        ["h6 is reserved for code cells, but no code block followed '###### a.mjs'"]
    );
}

#[test]
fn case20_empty_markdown_skipped() {
    let n = nb(vec![md(""), md("  \n "), code("x", "a.mjs")]);
    let out = encode(&n, Form::Inline);
    assert!(!out.contains("\n\n\n"));
    assert_eq!(encode(&decode(&out).expect("ok"), Form::Inline), out);
}

#[test]
fn case21_markdown_that_cannot_be_stored() {
    let e = check_markdown("text\n\n# Heading").expect_err("h1");
    assert_eq!(e, "Markdown cells cannot contain an h1 or h6 heading (line 3: '# Heading')");
    assert!(check_markdown("###### x").is_err());
    assert!(check_markdown("Setext\n===").is_err());
    assert!(check_markdown("```\nunclosed").is_err());
    assert!(check_markdown("## fine\n\n- # inside a list item is fine\n").is_ok());
    assert_eq!(normalize_markdown("a\n\n\n\nb\r\n"), "a\n\nb");
    // Link reference definitions are kept (Srcbook drops them).
    let t = doc("See [x].\n\n[x]: https://example.com\n");
    let n = decode(&t).expect("ok");
    assert!(matches!(&n.cells[1], Cell::Markdown(m) if m.text.ends_with("[x]: https://example.com")));
    assert_eq!(encode(&n, Form::Inline), t);
}

#[test]
fn case22_padded_title() {
    assert_eq!(normalize_title("  Padded  "), "Padded");
    assert_eq!(normalize_title("C #"), "C");
    let n = decode(&format!("{META_JS}\n\n#    Padded   \n")).expect("ok");
    assert!(matches!(&n.cells[0], Cell::Title(t) if t.text == "Padded"));
}

#[test]
fn case23_blank_lines_or_bom_before_metadata() {
    assert_eq!(errors(&format!("\n\n{META_JS}\n\n# T\n")), ["Document must contain exactly one h1 heading"]);
    assert_eq!(
        errors(&format!("\u{feff}{META_JS}\n\n# T\n")),
        ["Srcbook does not contain required metadata"]
    );
}

#[test]
fn ids_and_filenames() {
    let id = new_cell_id();
    assert!(is_valid_cell_id(&id), "{id}");
    assert_ne!(id, new_cell_id());
    assert!(!is_valid_cell_id("w0000000000000000000000000"));
    assert!(is_valid_filename("a-b_1.mts") && !is_valid_filename(".mjs") && !is_valid_filename("a.jsx"));
    assert_eq!(language_of_filename("x.cts"), Some(Language::Typescript));
    assert_eq!(DecodeError { errors: vec!["a".into(), "b".into()] }.to_string(), "a; b");
}

#[test]
fn external_form_and_decode_dir() {
    let mut n = nb(vec![
        Cell::PackageJson(PackageJsonCell {
            id: new_cell_id(),
            source: default_package_json(Language::Typescript),
            filename: "package.json".into(),
            status: CellStatus::Idle,
        }),
        md("Hello"),
        code("export const x = 1;\n", "a.ts"),
    ]);
    n.language = Language::Typescript;
    n.tsconfig = Some(default_tsconfig());
    let readme = encode(&n, Form::External);
    assert!(readme.contains("###### package.json\n\n[package.json](./package.json)"));
    assert!(readme.contains("###### a.ts\n\n[a.ts](./src/a.ts)"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("src")).expect("src");
    std::fs::write(dir.path().join("README.md"), &readme).expect("w");
    std::fs::write(dir.path().join("package.json"), default_package_json(Language::Typescript)).expect("w");
    std::fs::write(dir.path().join("src/a.ts"), "export const x = 1;\n").expect("w");
    let missing = decode_dir(dir.path()).expect_err("no tsconfig");
    assert_eq!(missing.errors.len(), 1);
    std::fs::write(dir.path().join("tsconfig.json"), default_tsconfig()).expect("w");
    assert!(decode_dir(dir.path()).expect("ok").same_content(&n));
}

#[test]
fn adjacent_markdown_cells_stay_apart() {
    let nb = Notebook {
        language: Language::Javascript,
        cells: vec![
            Cell::Title(TitleCell { id: new_cell_id(), text: "T".into() }),
            Cell::Markdown(MarkdownCell { id: new_cell_id(), text: "one".into() }),
            Cell::Markdown(MarkdownCell { id: new_cell_id(), text: String::new() }),
            Cell::Markdown(MarkdownCell { id: new_cell_id(), text: "two".into() }),
        ],
        tsconfig: None,
    };
    let text = encode(&nb, Form::Inline);
    assert_eq!(
        text,
        format!("<!-- srcbook:{{\"language\":\"javascript\"}} -->\n\n# T\n\none\n\n{CELL_BREAK}\n\ntwo\n")
    );
    let back = decode(&text).unwrap();
    let texts: Vec<_> = back
        .cells
        .iter()
        .filter_map(|c| match c {
            Cell::Markdown(m) => Some(m.text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(encode(&back, Form::Inline), text);
    assert!(check_markdown(&format!("a\n\n{CELL_BREAK}\n\nb")).is_err());
    assert!(check_markdown("a <!-- quire:cell-break --> inline is fine").is_ok());
}

#[test]
fn normalize_title_is_idempotent() {
    for t in ["# #", "#", "a #", "x ##", " spaced ", "é #  #"] {
        let once = normalize_title(t);
        assert_eq!(normalize_title(&once), once, "{t:?}");
        let text = doc("").replace("# T", &format!("# {once}"));
        let back = decode(&text).unwrap();
        assert!(matches!(&back.cells[0], Cell::Title(x) if x.text == once), "{t:?}");
    }
}

/// Found by `fuzz/decode`: `\v` before `######` is a paragraph, but the trimmed markdown text began
/// with an h6 heading, so the re-encoded notebook read back with a package.json cell it never had.
#[test]
fn markdown_that_trims_into_a_cell_heading_is_refused() {
    let text = doc("\u{b}###### package.json\n\n```json\n{}\n```\n\nafter\n");
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.contains("changes meaning once trimmed")), "{errs:?}");
    let h1 = doc("\u{c}# Second title\n\nmore\n");
    assert!(errors(&h1).iter().any(|e| e.contains("h1 or h6")));
    // A form feed inside a paragraph stays a paragraph and decodes as before.
    let fine = decode(&doc("a\u{c}###### b\n")).unwrap();
    assert_eq!(decode(&encode(&fine, Form::Inline)).unwrap().cells.len(), fine.cells.len());
}

/// Also from `fuzz/decode`: `\v` before `<!--` is a paragraph, trimmed it opens an HTML block that would
/// swallow the package.json cell after it.
#[test]
fn markdown_that_trims_into_an_open_html_block_is_refused() {
    let text = doc("\u{b}<!-- not a comment yet\n\n###### package.json\n\n```json\n{}\n```\n");
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.contains("changes meaning once trimmed")), "{errs:?}");
    // Without the vertical tab the comment is one all along, and the document reads as before.
    assert!(decode(&doc("<!-- open comment\n\n###### package.json\n\n```json\n{}\n```\n")).is_ok());
}
