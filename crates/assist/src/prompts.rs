//! What the model is told: a system prompt per task, and the notebook as context (its other cells,
//! its dependencies, the cell with its diagnostics and last run), cut to stay well inside any
//! model's context. The user sees exactly this text (`Progress::Started`).

use quire_stdx::text::{head, tail};
use srcmd::{Cell, Language};

/// Each other cell is cut at this many bytes, the whole context at `MAX_CONTEXT`.
const MAX_CELL: usize = 6 * 1024;
const MAX_CONTEXT: usize = 48 * 1024;
/// Output and diagnostics fed back to the model are cut at this many bytes (their end is kept).
const MAX_FEEDBACK: usize = 8 * 1024;

const RUNTIME: &str = "Each code cell is an ES module file run on its own with Node.js 20 (TypeScript is \
transpiled first, so type errors do not stop a run but are reported by the language service). A cell can import \
another cell by its file name (`import { x } from './other.ts'`) and any package listed in package.json. \
Top-level await works. Output is what the cell prints with console.log.";

pub const EDIT_SYSTEM: &str =
    "You are an expert TypeScript and JavaScript programmer working inside a notebook.";
pub const CELLS_SYSTEM: &str =
    "You are an expert TypeScript and JavaScript programmer writing cells for a notebook.";
pub const NOTEBOOK_SYSTEM: &str =
    "You are an expert TypeScript and JavaScript programmer writing a notebook.";

pub fn edit_system() -> String {
    format!(
        "{EDIT_SYSTEM} {RUNTIME}\n\nAnswer with the complete new code of the cell in a single fenced code block, \
and nothing else: no explanation before or after it."
    )
}

pub fn fix_system() -> String {
    format!(
        "{EDIT_SYSTEM} {RUNTIME}\n\nThe cell has errors. Change it so that it type-checks without errors and runs \
to the end with exit code 0, keeping what it is meant to do. Answer with the complete fixed code of the cell in a \
single fenced code block, and nothing else."
    )
}

pub fn cells_system(language: Language) -> String {
    let ext = ext(language);
    format!(
        "{CELLS_SYSTEM} {RUNTIME}\n\nAnswer only with new cells in the Srcbook .src.md format: a markdown cell is \
plain markdown (no h1 heading); a code cell is a line `###### name.{ext}` (a new, unique file name) followed by a \
fenced code block with its code. No text outside the cells."
    )
}

pub fn notebook_system() -> String {
    format!(
        "{NOTEBOOK_SYSTEM} {RUNTIME}\n\nAnswer only with the whole notebook in the Srcbook .src.md format, exactly:\n\
<!-- srcbook:{{\"language\":\"typescript\"}} -->\n\n# Title of the notebook\n\n###### package.json\n\n```json\n\
{{\n  \"type\": \"module\",\n  \"dependencies\": {{}}\n}}\n```\n\nthen markdown cells (plain markdown, no other h1) \
and code cells (a line `###### name.ts` followed by a fenced code block). List every package the code imports in \
package.json's dependencies (with `@types/...` where a package has no types of its own). No text outside the notebook."
    )
}

fn ext(language: Language) -> &'static str {
    if language == Language::Typescript { "ts" } else { "js" }
}

fn fence(language: &str, source: &str) -> String {
    let ticks = if source.contains("```") { "````" } else { "```" };
    format!("{ticks}{language}\n{}\n{ticks}\n", source.trim_end())
}

/// The notebook as the model should see it: title, dependencies, every code cell but `skip`.
pub fn notebook_context(cells: &[Cell], language: Language, skip: Option<&str>) -> String {
    let mut out = String::new();
    let lang = if language == Language::Typescript { "TypeScript" } else { "JavaScript" };
    for cell in cells {
        match cell {
            Cell::Title(t) => out.push_str(&format!("The notebook \"{}\" ({lang}).\n", t.text)),
            Cell::PackageJson(p) => out.push_str(&format!("Its package.json:\n{}", fence("json", &p.source))),
            _ => {}
        }
    }
    let mut others = String::new();
    for cell in cells {
        let Cell::Code(c) = cell else { continue };
        if Some(c.id.as_str()) == skip {
            continue;
        }
        let source = head(&c.source, MAX_CELL);
        let cut = if source.len() < c.source.len() { "\n// … (cut)" } else { "" };
        let block = format!("###### {}\n{}", c.filename, fence(ext(language), &format!("{source}{cut}")));
        if out.len() + others.len() + block.len() > MAX_CONTEXT {
            others.push_str("(more cells left out)\n");
            break;
        }
        others.push_str(&block);
    }
    if !others.is_empty() {
        out.push_str("\nIts other code cells:\n");
        out.push_str(&others);
    }
    out
}

/// What is known of the cell being changed.
pub struct CellContext<'a> {
    pub filename: &'a str,
    pub source: &'a str,
    pub diagnostics: &'a str,
    pub output: &'a str,
}

pub fn cell_block(cell: &CellContext<'_>, language: Language) -> String {
    let mut out = format!("\nThe cell {}:\n{}", cell.filename, fence(ext(language), cell.source));
    if !cell.diagnostics.trim().is_empty() {
        out.push_str(&format!(
            "\nIts diagnostics from the language service:\n{}\n",
            tail(cell.diagnostics, MAX_FEEDBACK)
        ));
    }
    if !cell.output.trim().is_empty() {
        out.push_str(&format!("\nIts last run's output:\n{}", fence("", tail(cell.output, MAX_FEEDBACK))));
    }
    out
}

/// What a failed attempt is told, to try again.
pub fn feedback(diagnostics: &[String], output: &str, exit_code: Option<i32>, timed_out: bool) -> String {
    let mut out = String::from("That version does not work yet.\n");
    if !diagnostics.is_empty() {
        out.push_str("The language service reports:\n");
        for d in diagnostics {
            out.push_str(&format!("- {d}\n"));
        }
    } else if timed_out {
        out.push_str("It type-checks, but its run did not end in time (it must finish on its own).\n");
    } else {
        let code = exit_code.map_or("no exit code (killed)".to_string(), |c| format!("exit code {c}"));
        out.push_str(&format!(
            "It type-checks, but its run ended with {code}. Its output:\n{}",
            fence("", tail(output, MAX_FEEDBACK))
        ));
    }
    out.push_str("\nAnswer with the complete corrected code of the cell in a single fenced code block, and nothing else.");
    out
}
