//! The lexer against marked 14.1.2 itself: `golden/lexer.json` was produced by `golden/gen.mjs`.

use srcmd::lexer::{Kind, lex};

#[test]
fn lexer_matches_marked() {
    check(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/lexer.json"));
}

#[test]
fn lexer_matches_marked_on_random_fragments() {
    check(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/random.json"));
}

fn check(path: &std::path::Path) {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read fixture")).expect("json");
    let mut failures = Vec::new();
    let cases = cases.as_array().expect("array");
    for case in cases {
        let input = case["input"].as_str().expect("input");
        let want: Vec<(String, Option<u64>, String)> = case["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .map(|t| {
                (
                    t[0].as_str().unwrap_or("").to_string(),
                    t[1].as_u64(),
                    t[2].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let got: Vec<(String, Option<u64>, String)> = lex(input, false)
            .into_iter()
            .map(|t| {
                let depth = (t.kind == Kind::Heading).then_some(u64::from(t.depth));
                (t.kind.name().to_string(), depth, t.raw)
            })
            .collect();
        if got != want {
            failures.push(format!("input {input:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
