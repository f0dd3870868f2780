//! The error catalogue: every failure the server reports has one `Code`, which fixes its HTTP status,
//! the snake_case code of the Srcbook-side APIs (HTTP envelope and WebSocket `error` payloads), the
//! code FileDB clients see, and its type. `docs/protocol.md` carries the same table (checked by a test).
//! Modelled on Meilisearch's `make_error_codes!`: one line per code, nothing to keep in sync by hand.

use axum::http::StatusCode;

/// What kind of failure a code is, for logs and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request was wrong; sending it again unchanged fails again.
    InvalidRequest,
    /// Credentials missing, wrong, or not enough.
    Auth,
    /// The server is starting, busy, full or rate-limiting; retrying later can succeed.
    System,
    /// A fault on the server side (the detail goes to the log, never to the client).
    Internal,
    /// The user's AI provider or MCP server failed or refused: its message is for the user (it names
    /// the URL or server and what answered), so it is never redacted.
    Provider,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request",
            ErrorType::Auth => "auth",
            ErrorType::System => "system",
            ErrorType::Internal => "internal",
            ErrorType::Provider => "provider",
        }
    }
}

macro_rules! error_codes {
    ($($variant:ident => $status:literal, $snake:literal, $filedb:literal, $kind:ident;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            fn spec(self) -> (u16, &'static str, &'static str, ErrorType) {
                match self { $(Code::$variant => ($status, $snake, $filedb, ErrorType::$kind)),* }
            }
        }
    };
}

error_codes! {
    InvalidPath => 400, "invalid_path", "VALIDATION_ERROR", InvalidRequest;
    InvalidJson => 400, "invalid_json", "VALIDATION_ERROR", InvalidRequest;
    InvalidBody => 400, "invalid_body", "VALIDATION_ERROR", InvalidRequest;
    InvalidUrl => 400, "invalid_url", "VALIDATION_ERROR", InvalidRequest;
    InvalidFilename => 400, "invalid_filename", "VALIDATION_ERROR", InvalidRequest;
    UnknownSetting => 400, "unknown_setting", "VALIDATION_ERROR", InvalidRequest;
    Validation => 400, "validation_error", "VALIDATION_ERROR", InvalidRequest;
    UploadError => 400, "upload_error", "UPLOAD_ERROR", InvalidRequest;
    InvalidFrame => 400, "invalid_frame", "VALIDATION_ERROR", InvalidRequest;
    UnknownTopic => 400, "unknown_topic", "VALIDATION_ERROR", InvalidRequest;
    UnknownEvent => 400, "unknown_event", "VALIDATION_ERROR", InvalidRequest;
    NotACodeCell => 400, "not_a_code_cell", "VALIDATION_ERROR", InvalidRequest;
    AiNotConfigured => 400, "ai_not_configured", "VALIDATION_ERROR", InvalidRequest;
    AiConfig => 400, "ai_config", "VALIDATION_ERROR", InvalidRequest;
    AiContextTooLong => 400, "ai_context_too_long", "VALIDATION_ERROR", Provider;
    NoPackageJson => 400, "no_package_json", "VALIDATION_ERROR", InvalidRequest;
    Unauthorized => 401, "unauthorized", "AUTHENTICATION_ERROR", Auth;
    ForbiddenHost => 403, "forbidden_host", "AUTHORIZATION_ERROR", Auth;
    ForbiddenOrigin => 403, "forbidden_origin", "AUTHORIZATION_ERROR", Auth;
    Forbidden => 403, "forbidden", "AUTHORIZATION_ERROR", Auth;
    SignupClosed => 403, "signup_closed", "SIGNUP_CLOSED", Auth;
    CapabilityRequired => 403, "capability_required", "AUTHORIZATION_ERROR", Auth;
    NotFound => 404, "not_found", "NOT_FOUND", InvalidRequest;
    NotebookNotFound => 404, "notebook_not_found", "NOT_FOUND", InvalidRequest;
    CellNotFound => 404, "cell_not_found", "NOT_FOUND", InvalidRequest;
    SecretNotFound => 404, "secret_not_found", "NOT_FOUND", InvalidRequest;
    FileNotFound => 404, "file_not_found", "FILE_NOT_FOUND", InvalidRequest;
    UploadNotFound => 404, "upload_not_found", "UPLOAD_NOT_FOUND", InvalidRequest;
    MethodNotAllowed => 405, "method_not_allowed", "METHOD_NOT_ALLOWED", InvalidRequest;
    AiStopped => 409, "ai_stopped", "CONFLICT", InvalidRequest;
    AlreadyExists => 409, "already_exists", "CONFLICT", InvalidRequest;
    AlreadyRunning => 409, "already_running", "CONFLICT", InvalidRequest;
    NotRunning => 409, "not_running", "CONFLICT", InvalidRequest;
    StaleRequest => 409, "stale_request", "CONFLICT", InvalidRequest;
    IdempotencyInFlight => 409, "idempotency_in_flight", "IDEMPOTENCY_IN_FLIGHT", InvalidRequest;
    OffsetMismatch => 409, "offset_mismatch", "OFFSET_MISMATCH", InvalidRequest;
    UploadExpired => 410, "upload_expired", "UPLOAD_EXPIRED", InvalidRequest;
    TusVersionUnsupported => 412, "tus_version_unsupported", "TUS_VERSION_UNSUPPORTED", InvalidRequest;
    PayloadTooLarge => 413, "payload_too_large", "PAYLOAD_TOO_LARGE", InvalidRequest;
    FileTooLarge => 413, "file_too_large", "FILE_TOO_LARGE", InvalidRequest;
    UnsupportedMediaType => 415, "unsupported_media_type", "UNSUPPORTED_MEDIA_TYPE", InvalidRequest;
    RangeNotSatisfiable => 416, "range_not_satisfiable", "RANGE_NOT_SATISFIABLE", InvalidRequest;
    InvalidPayload => 422, "invalid_payload", "VALIDATION_ERROR", InvalidRequest;
    InvalidTitle => 422, "invalid_title", "VALIDATION_ERROR", InvalidRequest;
    InvalidMarkdown => 422, "invalid_markdown", "VALIDATION_ERROR", InvalidRequest;
    InvalidSrcmd => 422, "invalid_srcmd", "VALIDATION_ERROR", InvalidRequest;
    InvalidSetting => 422, "invalid_setting", "VALIDATION_ERROR", InvalidRequest;
    InvalidCell => 422, "invalid_cell", "VALIDATION_ERROR", InvalidRequest;
    InvalidTsconfig => 422, "invalid_tsconfig", "VALIDATION_ERROR", InvalidRequest;
    InvalidInput => 422, "invalid_input", "VALIDATION_ERROR", InvalidRequest;
    ImportFetchFailed => 422, "import_fetch_failed", "VALIDATION_ERROR", InvalidRequest;
    PackageSourceRefused => 422, "package_source_refused", "VALIDATION_ERROR", InvalidRequest;
    IdempotencyMismatch => 422, "idempotency_mismatch", "IDEMPOTENCY_MISMATCH", InvalidRequest;
    AiAnswerInvalid => 422, "ai_answer_invalid", "VALIDATION_ERROR", Provider;
    UploadLocked => 423, "upload_locked", "UPLOAD_LOCKED", InvalidRequest;
    RateLimited => 429, "rate_limited", "RATE_LIMIT_ERROR", System;
    UserRateLimited => 429, "user_rate_limited", "RATE_LIMIT_EXCEEDED", System;
    QuotaExceeded => 429, "quota_exceeded", "QUOTA_EXCEEDED", System;
    TooManyUploads => 429, "too_many_uploads", "TOO_MANY_UPLOADS", System;
    AiRateLimited => 429, "ai_rate_limited", "RATE_LIMIT_ERROR", Provider;
    ChecksumMismatch => 460, "checksum_mismatch", "CHECKSUM_MISMATCH", InvalidRequest;
    Internal => 500, "internal", "INTERNAL_ERROR", Internal;
    IoError => 500, "io_error", "INTERNAL_ERROR", Internal;
    DatabaseError => 500, "database_error", "INTERNAL_ERROR", Internal;
    CorruptData => 500, "corrupt_data", "CORRUPT_DATA", Internal;
    NotImplemented => 501, "not_implemented", "NOT_IMPLEMENTED", InvalidRequest;
    NotSupported => 501, "not_supported", "NOT_IMPLEMENTED", InvalidRequest;
    LanguageServiceDisabled => 501, "language_service_disabled", "NOT_IMPLEMENTED", InvalidRequest;
    AiInvalidKey => 502, "ai_invalid_key", "BAD_GATEWAY", Provider;
    AiUnknownModel => 502, "ai_unknown_model", "BAD_GATEWAY", Provider;
    AiUnreachable => 502, "ai_unreachable", "BAD_GATEWAY", Provider;
    AiStreamCut => 502, "ai_stream_cut", "BAD_GATEWAY", Provider;
    AiUpstreamError => 502, "ai_upstream_error", "BAD_GATEWAY", Provider;
    AiBadResponse => 502, "ai_bad_response", "BAD_GATEWAY", Provider;
    AiBaseUrlUnresolved => 502, "ai_base_url_unresolved", "BAD_GATEWAY", Provider;
    AiBreakerOpen => 503, "ai_breaker_open", "SERVICE_UNAVAILABLE", Provider;
    AiBusy => 503, "ai_busy", "SERVICE_UNAVAILABLE", Provider;
    NotReady => 503, "not_ready", "SERVICE_UNAVAILABLE", System;
    DatabaseBusy => 503, "database_busy", "SERVICE_UNAVAILABLE", System;
    TooManyConnections => 503, "too_many_connections", "SERVICE_UNAVAILABLE", System;
    RuntimeUnavailable => 503, "runtime_unavailable", "SERVICE_UNAVAILABLE", System;
    AiTimeout => 504, "ai_timeout", "GATEWAY_TIMEOUT", Provider;
    InsufficientStorage => 507, "insufficient_storage", "INSUFFICIENT_STORAGE", System;
    McpConfigInvalid => 400, "mcp_config_invalid", "VALIDATION_ERROR", InvalidRequest;
    McpApprovalDenied => 403, "mcp_approval_denied", "AUTHORIZATION_ERROR", InvalidRequest;
    McpApprovalTimeout => 403, "mcp_approval_timeout", "AUTHORIZATION_ERROR", InvalidRequest;
    McpApprovalNoClient => 403, "mcp_approval_no_client", "AUTHORIZATION_ERROR", InvalidRequest;
    McpUnknownServer => 404, "mcp_unknown_server", "NOT_FOUND", InvalidRequest;
    McpUnknownTool => 404, "mcp_unknown_tool", "NOT_FOUND", InvalidRequest;
    McpApprovalUnknown => 404, "mcp_approval_unknown", "NOT_FOUND", InvalidRequest;
    McpDisabled => 409, "mcp_disabled", "CONFLICT", InvalidRequest;
    McpConnectFailed => 502, "mcp_connect_failed", "BAD_GATEWAY", Provider;
    McpProtocol => 502, "mcp_protocol", "BAD_GATEWAY", Provider;
    McpServerError => 502, "mcp_server_error", "BAD_GATEWAY", Provider;
    McpClosed => 502, "mcp_closed", "BAD_GATEWAY", Provider;
    McpBreakerOpen => 503, "mcp_breaker_open", "SERVICE_UNAVAILABLE", Provider;
    McpBusy => 503, "mcp_busy", "SERVICE_UNAVAILABLE", Provider;
    McpTimeout => 504, "mcp_timeout", "GATEWAY_TIMEOUT", Provider;
}

impl Code {
    /// The Srcbook-side snake_case code (HTTP envelope, WebSocket `error` payloads).
    pub fn as_str(&self) -> &'static str {
        self.spec().1
    }
    /// The code FileDB clients see (`{error, code, context?}` bodies).
    pub fn filedb(&self) -> &'static str {
        self.spec().2
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.spec().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    pub fn error_type(&self) -> ErrorType {
        self.spec().3
    }
    /// A server-side failure: the body says only "internal error" and the request id; the detail is
    /// logged. (501 is a statement about the server, not a failure, and keeps its message.)
    pub fn is_redacted(&self) -> bool {
        let status = self.spec().0;
        status >= 500 && status != 501 && self.spec().3 != ErrorType::Provider
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const PROTOCOL: &str = include_str!("../../../../docs/protocol.md");

    /// The rows of the table under "### Error codes" in `docs/protocol.md`, cells without backticks.
    fn documented() -> Vec<Vec<String>> {
        let start = PROTOCOL.find("### Error codes").expect("docs/protocol.md has an Error codes table");
        PROTOCOL[start..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().replace('`', "")).collect())
            .collect()
    }

    #[test]
    fn every_code_is_in_the_protocol_table_and_nothing_else_is() {
        let rendered: BTreeSet<Vec<String>> = Code::ALL
            .iter()
            .map(|c| {
                vec![
                    c.as_str().to_string(),
                    c.status().as_u16().to_string(),
                    c.filedb().to_string(),
                    c.error_type().as_str().to_string(),
                ]
            })
            .collect();
        let docs: BTreeSet<Vec<String>> = documented().into_iter().collect();
        let missing: Vec<_> = rendered.difference(&docs).collect();
        let stale: Vec<_> = docs.difference(&rendered).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "not in the docs: {missing:?}\nonly in the docs: {stale:?}"
        );
    }

    #[test]
    fn snake_codes_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c:?} repeats {}", c.as_str());
            assert!(c.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{c:?}");
            assert!(c.filedb().bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{c:?}");
            if c.error_type() == ErrorType::Internal {
                assert_eq!(c.status(), StatusCode::INTERNAL_SERVER_ERROR, "{c:?}");
            }
        }
    }
}
