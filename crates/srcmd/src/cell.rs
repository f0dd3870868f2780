//! The notebook data model, shaped exactly like Srcbook's cell schema (it is also the wire shape).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Javascript,
    Typescript,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Javascript => "javascript",
            Language::Typescript => "typescript",
        }
    }
    /// Default extension of a new cell (`js` / `ts`).
    pub fn default_extension(self) -> &'static str {
        match self {
            Language::Javascript => "js",
            Language::Typescript => "ts",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellStatus {
    #[default]
    Idle,
    Running,
    /// Only valid for the package.json cell.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Cell {
    #[serde(rename = "title")]
    Title(TitleCell),
    #[serde(rename = "markdown")]
    Markdown(MarkdownCell),
    #[serde(rename = "package.json")]
    PackageJson(PackageJsonCell),
    #[serde(rename = "code")]
    Code(CodeCell),
    #[serde(rename = "placeholder")]
    Placeholder(PlaceholderCell),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TitleCell {
    pub id: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkdownCell {
    pub id: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageJsonCell {
    pub id: String,
    pub source: String,
    /// Always `package.json`.
    pub filename: String,
    #[serde(default)]
    pub status: CellStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCell {
    pub id: String,
    pub source: String,
    pub language: Language,
    pub filename: String,
    #[serde(default)]
    pub status: CellStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceholderCell {
    pub id: String,
    pub text: String,
}

impl Cell {
    pub fn id(&self) -> &str {
        match self {
            Cell::Title(c) => &c.id,
            Cell::Markdown(c) => &c.id,
            Cell::PackageJson(c) => &c.id,
            Cell::Code(c) => &c.id,
            Cell::Placeholder(c) => &c.id,
        }
    }

    pub fn set_id(&mut self, id: String) {
        match self {
            Cell::Title(c) => c.id = id,
            Cell::Markdown(c) => c.id = id,
            Cell::PackageJson(c) => c.id = id,
            Cell::Code(c) => c.id = id,
            Cell::Placeholder(c) => c.id = id,
        }
    }
}

/// A decoded notebook. `tsconfig` is kept as text (pretty JSON when it came from metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notebook {
    pub language: Language,
    pub cells: Vec<Cell>,
    pub tsconfig: Option<String>,
}
