//! Default package.json and tsconfig.json of a new notebook (Srcbook's, byte for byte).

use crate::Language;

/// 2-space JSON, no trailing newline.
pub fn default_package_json(lang: Language) -> String {
    let deps = match lang {
        Language::Typescript => {
            "  \"dependencies\": {\n    \"tsx\": \"latest\",\n    \"typescript\": \"latest\",\n    \"@types/node\": \"latest\"\n  },\n"
        }
        Language::Javascript => "",
    };
    format!(
        "{{\n  \"type\": \"module\",\n{deps}  \"devDependencies\": {{\n    \"prettier\": \"latest\"\n  }},\n  \"prettier\": {{\n    \"semi\": true,\n    \"singleQuote\": true\n  }}\n}}"
    )
}

/// 2-space JSON, no trailing newline; key order as in Srcbook (it is embedded verbatim on export).
pub fn default_tsconfig() -> String {
    "{\n  \"compilerOptions\": {\n    \"types\": [],\n    \"strict\": true,\n    \"module\": \"nodenext\",\n    \"moduleResolution\": \"nodenext\",\n    \"target\": \"es2022\",\n    \"resolveJsonModule\": true,\n    \"noEmit\": true,\n    \"allowImportingTsExtensions\": true,\n    \"noPropertyAccessFromIndexSignature\": true\n  },\n  \"include\": [\n    \"src/**/*\",\n    \"env.d.ts\"\n  ],\n  \"exclude\": [\n    \"node_modules\"\n  ]\n}".to_string()
}
