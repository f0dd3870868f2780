//! Srcbook `.src.md` codec: `decode`/`encode` in the inline and external forms.
//!
//! Invariants: never panics on any input, does no I/O (except `decode_dir`), and
//! `encode(decode(encode(n))) == encode(n)` for every notebook Quire accepts.
//!
//! Quire's choices where Srcbook leaves things open (see the crate tests):
//! - cells are written in their order; markdown before package.json stays there;
//! - a `.ts` cell in a JavaScript notebook is accepted (its language comes from the extension);
//! - invalid filenames (`../x.mjs`, `a/b.mjs`, backticks) and duplicate filenames are errors;
//! - link reference definitions are kept as markdown (dropped only right after an h6, as Srcbook does);
//! - empty markdown cells are not written; fences grow past any backtick line in the source.

mod cell;
mod decode;
mod def;
mod defaults;
mod dir;
mod encode;
mod html;
mod ids;
mod inline;
mod js;
#[doc(hidden)]
pub mod lexer;
mod list;
mod markdown;
mod rules;

pub use cell::*;
pub use decode::{CELL_BREAK, DecodeError, decode, decode_cells};
pub use defaults::{default_package_json, default_tsconfig};
pub use dir::decode_dir;
pub use encode::{Form, encode};
pub use ids::{is_valid_cell_id, is_valid_filename, language_of_filename, new_cell_id};
pub use markdown::{check_markdown, normalize_markdown, normalize_title};

impl Notebook {
    /// Equality ignoring cell ids and statuses.
    pub fn same_content(&self, other: &Notebook) -> bool {
        fn strip(c: &Cell) -> Cell {
            let mut c = c.clone();
            match &mut c {
                Cell::Title(t) => t.id.clear(),
                Cell::Markdown(m) => m.id.clear(),
                Cell::PackageJson(p) => {
                    p.id.clear();
                    p.status = CellStatus::Idle;
                }
                Cell::Code(x) => {
                    x.id.clear();
                    x.status = CellStatus::Idle;
                }
                Cell::Placeholder(p) => p.id.clear(),
            }
            c
        }
        self.language == other.language
            && self.tsconfig == other.tsconfig
            && self.cells.len() == other.cells.len()
            && self.cells.iter().zip(&other.cells).all(|(a, b)| strip(a) == strip(b))
    }
}
