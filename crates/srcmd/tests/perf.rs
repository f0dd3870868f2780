//! Decoding stays linear-ish: 100 KB documents, including adversarial shapes, decode quickly.

use std::time::{Duration, Instant};

fn time(label: &str, text: &str) -> Duration {
    let start = Instant::now();
    let _ = srcmd::decode(text);
    let _ = srcmd::decode_cells(text);
    let d = start.elapsed();
    println!("{label}: {} bytes in {d:?}", text.len());
    d
}

fn repeat_to(unit: &str, size: usize) -> String {
    unit.repeat(size / unit.len().max(1) + 1)
}

#[test]
fn large_and_adversarial_documents() {
    let size = 100_000;
    let head = "<!-- srcbook:{\"language\":\"javascript\"} -->\n\n# T\n\n";
    let cases = [
        (
            "typical",
            format!(
                "{head}{}",
                repeat_to("Some prose here.\n\n###### a.mjs\n\n```javascript\nconsole.log(1)\n```\n\n", size)
            ),
        ),
        ("defs", repeat_to("[a]: b \"\n", size)),
        ("nested quotes", repeat_to(">", size)),
        ("quote lists", repeat_to("> - a\nlazy\n", size)),
        ("comments", repeat_to("<!--\n", size)),
        ("fences", repeat_to("```\n", size)),
        ("list lazy", repeat_to("- a\nb\n", size)),
        ("brackets", repeat_to("###### a.mjs\n[[[[[[[[[[(\n", size)),
        ("setext", repeat_to("a\n", size)),
        ("tables", repeat_to("a|b\n-|-\n", size)),
        ("html7", repeat_to("<x-y a=\"1\"\n", size)),
        ("pre", repeat_to("<pre>\n</pre", size)),
    ];
    // A hang detector, not a speed target (that is `quire-bench codec`): quadratic behaviour on 100 KB
    // takes minutes, so generous limits cannot flake on a loaded CI machine.
    let limit = if cfg!(debug_assertions) { Duration::from_secs(20) } else { Duration::from_secs(2) };
    for (label, text) in cases {
        assert!(time(label, &text) < limit, "{label} too slow");
    }
}
