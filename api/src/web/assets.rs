//! The dashboard's stylesheet and script, embedded in the binary. Their URLs carry a content hash, so
//! browsers cache them for a year and a new release is fetched at once.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::AppState;

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

struct Asset {
    path: String,
    body: &'static str,
    content_type: &'static str,
}

fn asset(name: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let hash = hex::encode(&Sha256::digest(body.as_bytes())[..6]);
    Asset {
        path: format!("/assets/{name}.{hash}.{ext}"),
        body,
        content_type,
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        asset("app", "css", CSS, "text/css; charset=utf-8"),
        asset("app", "js", JS, "text/javascript; charset=utf-8"),
    ]
});

/// The stylesheet's versioned URL, for the layout.
pub fn css_url() -> &'static str {
    &ASSETS[0].path
}

/// The script's versioned URL, for the layout.
pub fn js_url() -> &'static str {
    &ASSETS[1].path
}

pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(serve))
}

/// The dashboard's stylesheet or script, at its content-hashed URL (cached for a year).
#[utoipa::path(get, path = "/assets/{file}", operation_id = "asset", tag = "pages",
    params(("file" = String, Path, description = "`app.<hash>.css` or `app.<hash>.js`, as the pages link them")),
    responses((status = 200, description = "The file",
               content((String = "text/css"), (String = "text/javascript"))),
              (status = 404, description = "No such file (empty body)")))]
async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/{file}");
    let Some(asset) = ASSETS.iter().find(|a| a.path == wanted) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.body,
    )
        .into_response()
}
