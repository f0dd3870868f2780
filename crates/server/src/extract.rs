//! A JSON body extractor whose rejections are `ApiError`s (status + stable code), not plain text.

use crate::error::{ApiError, Code};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            Code::UnsupportedMediaType,
            "Expected a request with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(Code::InvalidJson, e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::new(Code::InvalidPayload, e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(Code::PayloadTooLarge, "The request body is larger than the server accepts")
        }
        other => ApiError::new(Code::InvalidBody, other.body_text()),
    }
}
