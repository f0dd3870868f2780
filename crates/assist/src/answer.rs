//! Reading the model's answer: the code out of its fenced block, cells and notebooks through the
//! `.src.md` codec (an answer that does not decode is refused with the decoder's messages).

use crate::AssistError;
use srcmd::{Cell, Language};

/// The code of an answer: the longest fenced block's body, or the whole answer when it has none
/// (a model told to answer with code alone sometimes drops the fence).
pub fn extract_code(answer: &str) -> String {
    let mut best: Option<String> = None;
    let mut lines = answer.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let ticks = trimmed.chars().take_while(|c| *c == '`').count();
        if ticks < 3 {
            continue;
        }
        let fence = &trimmed[..ticks];
        let mut body = Vec::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner.trim() == fence {
                closed = true;
                break;
            }
            body.push(inner);
        }
        let _ = closed; // an unclosed block (a cut answer) still counts
        let body = body.join("\n");
        if best.as_ref().is_none_or(|b| body.len() > b.len()) {
            best = Some(body);
        }
    }
    let code = best.unwrap_or_else(|| answer.trim().to_string());
    let mut code = code.trim_end().to_string();
    code.push('\n');
    code
}

/// Text around a document (an explanation, or the whole thing in one fence) is dropped.
fn strip_wrapping(answer: &str) -> &str {
    let t = answer.trim();
    for open in ["```markdown\n", "```md\n", "````markdown\n", "```\n"] {
        if let Some(rest) = t.strip_prefix(open) {
            let close = &open[..open.find(|c: char| c != '`').unwrap_or(3)];
            return rest.trim_end().strip_suffix(close).unwrap_or(rest);
        }
    }
    t
}

/// New cells from an answer in `.src.md` form, with fresh ids; code cells get the notebook's language.
pub fn decode_cells(answer: &str, language: Language) -> Result<Vec<Cell>, AssistError> {
    let text = strip_wrapping(answer);
    let cells = srcmd::decode_cells(text).map_err(|e| AssistError::AnswerInvalid(e.to_string()))?;
    let cells: Vec<Cell> = cells
        .into_iter()
        .filter(|c| matches!(c, Cell::Code(_) | Cell::Markdown(_)))
        .map(|mut c| {
            if let Cell::Code(code) = &mut c {
                code.language = language;
            }
            c
        })
        .collect();
    if cells.is_empty() {
        return Err(AssistError::AnswerInvalid("the answer holds no cells".into()));
    }
    Ok(cells)
}

/// A whole notebook from an answer; the text is returned as it decoded (the caller imports it).
pub fn notebook_text(answer: &str) -> Result<String, AssistError> {
    let mut text = strip_wrapping(answer).to_string();
    if !text.trim_start().starts_with("<!--") {
        // The metadata line is the part models forget most: a TypeScript notebook is the default.
        text = format!("<!-- srcbook:{{\"language\":\"typescript\"}} -->\n\n{text}");
    }
    srcmd::decode(&text).map_err(|e| AssistError::AnswerInvalid(e.to_string()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_comes_out_of_the_longest_fence_or_the_whole_answer() {
        assert_eq!(extract_code("Here:\n```ts\nconst a = 1;\n```\nDone."), "const a = 1;\n");
        assert_eq!(extract_code("```ts\nx\n```\n```ts\nlonger\n```"), "longer\n");
        assert_eq!(extract_code("console.log(1)"), "console.log(1)\n");
        assert_eq!(extract_code("````ts\nconst s = '```';\n````"), "const s = '```';\n");
        assert_eq!(extract_code("```ts\ncut off"), "cut off\n");
    }

    #[test]
    fn cells_decode_with_the_notebooks_language_and_bad_answers_are_refused() {
        let cells = decode_cells(
            "Some text.\n\n###### a.ts\n\n```typescript\nconst a = 1;\n```\n",
            Language::Typescript,
        )
        .unwrap();
        assert_eq!(cells.len(), 2);
        assert!(matches!(&cells[1], Cell::Code(c) if c.filename == "a.ts" && c.source.contains("const a")));
        assert_eq!(decode_cells("   ", Language::Typescript).unwrap_err().code(), "ai_answer_invalid");
    }

    #[test]
    fn a_notebook_answer_without_metadata_gets_it() {
        let doc = "# T\n\n###### package.json\n\n```json\n{\"type\":\"module\"}\n```\n\n###### a.ts\n\n```typescript\nconsole.log(1)\n```\n";
        let text = notebook_text(&format!("```markdown\n{doc}```")).unwrap();
        assert!(text.starts_with("<!-- srcbook:"));
        assert!(notebook_text("just words").is_err());
    }
}
