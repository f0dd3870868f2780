//! `quire mcp`: Quire's MCP server on stdio — the engine in this process on the data dir, or a bridge
//! to a running server's `/mcp`.

use crate::{ServeArgs, admin, data_dir_or_default, file_store_section, init_logging, runtime_section};
use anyhow::{Context, bail};
use quire_server::Config;

#[derive(clap::Args)]
pub struct McpArgs {
    /// A running server's MCP endpoint (`http://127.0.0.1:2150/mcp`): bridge stdio to it.
    #[arg(long)]
    pub url: Option<String>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `quire mcp`: stdout is the protocol's, so logs go to stderr (and `--log-file`) only. A running
/// server holds the data dir: then its `/mcp` endpoint is the way in, and this says so.
pub async fn run(McpArgs { url, serve: args }: McpArgs) -> anyhow::Result<()> {
    init_logging(args.log_format, None);
    if let Some(url) = url {
        let token = match (&args.token, &args.token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
            (None, None) => bail!("--url needs the server's token: --token-file, or QUIRE_TOKEN"),
        };
        // rmcp's HTTP client is reqwest on rustls: ring, as everywhere in Quire.
        quire_server::install_crypto_provider();
        return Ok(quire_mcp_server::bridge_stdio(&url, &token).await?);
    }
    let data_dir = data_dir_or_default(args.data_dir.clone())?;
    std::fs::create_dir_all(data_dir.root())
        .with_context(|| format!("cannot create {}", data_dir.root().display()))?;
    let _lock = admin::lock_data_dir(&data_dir).map_err(|_| {
        anyhow::anyhow!(
            "a quire server is running on {}: use `quire mcp --url http://HOST:PORT/mcp` with its token \
             (QUIRE_TOKEN or --token-file), or connect the MCP client to that /mcp URL with \
             `Authorization: Bearer <token>` (docs/protocol.md, \"MCP server\")",
            data_dir.root().display()
        )
    })?;
    admin::refuse_unfinished_restore(&data_dir)?;
    let (files, runtime) = (file_store_section(&args)?, runtime_section(&args)?);
    // Nothing listens: the token only fills the field.
    let mut config = Config::new(data_dir.root().to_path_buf(), quire_server::random_hex(32));
    config.files = files;
    config.runtime = runtime;
    config.language = quire_tsls::LanguageConfig { enabled: !args.no_language_service, ..Default::default() };
    config.secret_key = args.key.secret_key;
    config.max_body_bytes = args.max_body;
    tracing::info!(data_dir = %data_dir.root().display(), "serving MCP on stdio");
    quire_server::serve_mcp_stdio(config).await
}
