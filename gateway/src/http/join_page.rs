//! The join page: `/join/{tenant}/{conference}`, where a person joins a meeting from a browser
//! (name, camera and microphone, then the meeting over WebRTC), with an optional participant
//! grant in `?grant=` (`crate::grants`).
//!
//! Owns serving the page's static assets (plain HTML, JavaScript and CSS from `gateway/join/`,
//! embedded in the binary: no build step, nothing fetched from elsewhere). It must not hold
//! meeting state or decide anything: the page talks to the `/api/v1/join/...` signalling routes,
//! which own joining, the lobby and media.
//!
//! | Method and path                          | Answer                                      |
//! |------------------------------------------|---------------------------------------------|
//! | `GET /join/{tenant}/{conference}`        | the page (any grant stays in the query)     |
//! | `GET /join/app.js`, `GET /join/app.css`  | the assets                                  |
//!
//! The page is the same for every meeting (it reads tenant and conference from its own path), so
//! it needs no token; whether the meeting exists is answered when the page asks to join.

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::console::locked_asset;
use super::HttpState;

/// The page (`gateway/join/index.html`).
const INDEX_HTML: &str = include_str!("../../join/index.html");
/// The page's script (`gateway/join/app.js`).
const APP_JS: &str = include_str!("../../join/app.js");
/// The page's style sheet (`gateway/join/app.css`).
const APP_CSS: &str = include_str!("../../join/app.css");

/// What the page may load and talk to: only this origin (media arrive over WebRTC, which CSP
/// does not govern), no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page may use this origin's camera and microphone, nothing else's.
const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=()";

/// The join page's routes. Merged into [`super::router`].
pub(crate) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/join/{tenant}/{conference}", get(index))
        .route("/join/app.js", get(app_js))
        .route("/join/app.css", get(app_css))
}

/// A static asset: the console's lock-down headers with this page's policies. The referrer
/// policy keeps a grant in the page's URL from leaking to anything the page links to.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = locked_asset(content_type, CONTENT_SECURITY_POLICY, body);
    response.headers_mut().insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    response
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};

    use super::super::test_support::Api;

    #[tokio::test]
    async fn page_and_assets_are_served_without_a_token_and_locked_down() {
        let api = Api::empty();
        for (uri, kind, contains) in [
            (
                "/join/12345678/1177958860?grant=abc.def",
                "text/html",
                "join-form",
            ),
            ("/join/app.js", "text/javascript", "RTCPeerConnection"),
            ("/join/app.css", "text/css", ".tiles"),
        ] {
            let answer = api.send(Method::GET, uri, None, None).await;
            assert_eq!(answer.status, StatusCode::OK, "{uri}");
            let headers = &answer.headers;
            assert!(
                headers["content-type"].to_str().unwrap().starts_with(kind),
                "{uri}"
            );
            assert!(headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"));
            assert_eq!(headers["referrer-policy"], "no-referrer");
            assert!(headers["permissions-policy"]
                .to_str()
                .unwrap()
                .contains("camera=(self)"));
            assert!(
                String::from_utf8_lossy(&answer.body).contains(contains),
                "{uri}"
            );
        }
    }

    #[test]
    fn page_loads_nothing_from_elsewhere() {
        for asset in [super::INDEX_HTML, super::APP_JS, super::APP_CSS] {
            for remote in ["http://", "https://", "//cdn", "@import"] {
                assert!(!asset.contains(remote), "an asset refers to {remote}");
            }
        }
    }
}
