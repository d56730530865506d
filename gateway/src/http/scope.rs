//! Who a request speaks for: the operator (the operator token, sees everything) or one tenant (a
//! tenant token from the directory, sees and changes that tenant only).
//!
//! Owns the authorisation rule by path, applied once in the token middleware before any handler
//! runs; handlers that list across tenants read the [`Scope`] from the request extensions to
//! filter. Tenant tokens are denied by default: only the path shapes below are open to them.
//!
//! | path (under `/api/v1/`)                  | tenant token of tenant K                    |
//! |------------------------------------------|---------------------------------------------|
//! | `tenants` (GET)                          | allowed; the list holds K only              |
//! | `tenants` (POST)                         | 403: operator only                          |
//! | `tenants/{key}` (DELETE)                 | 403: operator only                          |
//! | `tenants/{key}/...`, `meetings/{key}/...`| allowed when `{key}` is K, else 403         |
//! | `meetings` (GET)                         | allowed; filtered to K                      |
//! | anything else                            | 403: operator only                          |

use axum::http::Method;
use signaling::TenantKey;

use super::db::with_directory;
use super::routes::ApiError;
use super::HttpState;

/// The authority of the token a request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The operator token: every tenant, every route.
    Operator,
    /// A tenant token: this tenant only.
    Tenant(TenantKey),
}

impl Scope {
    /// Resolves a presented bearer token that is not the operator token: a live tenant token
    /// gives its tenant, anything else `None` (401).
    pub(super) async fn of_tenant_token(
        state: &HttpState,
        token: &str,
    ) -> Result<Option<Scope>, ApiError> {
        let token = token.to_owned();
        let tenant = with_directory(state, move |dir| dir.tenant_for_token(&token)).await?;
        Ok(tenant.map(Scope::Tenant))
    }

    /// Whether this scope may send `method` to `path` (the request's raw path: segments are
    /// compared undecoded, so an encoded form of a tenant key counts as another tenant).
    pub(super) fn authorise(&self, method: &Method, path: &str) -> Result<(), ApiError> {
        let Scope::Tenant(own) = self else {
            return Ok(());
        };
        let segments: Vec<&str> = path
            .strip_prefix("/api/v1/")
            .unwrap_or_default()
            .split('/')
            .collect();
        let operator_only = || {
            Err(ApiError::Forbidden(
                "this route needs the operator token".to_owned(),
            ))
        };
        match segments.as_slice() {
            ["tenants"] if method == Method::POST => operator_only(),
            ["tenants"] | ["meetings"] => Ok(()),
            ["tenants", key, rest @ ..] | ["meetings", key, rest @ ..] => {
                if *key != own.as_str() {
                    return Err(self.other_tenant());
                }
                if segments[0] == "tenants" && rest.is_empty() && method == Method::DELETE {
                    return operator_only();
                }
                Ok(())
            }
            _ => operator_only(),
        }
    }

    /// Whether this scope may see `tenant` (for filters given in a query, not in the path).
    pub(super) fn may_see(&self, tenant: &str) -> Result<(), ApiError> {
        match self {
            Scope::Tenant(own) if own.as_str() != tenant => Err(self.other_tenant()),
            _ => Ok(()),
        }
    }

    /// The tenant this scope is limited to, if any.
    pub(super) fn tenant(&self) -> Option<&TenantKey> {
        match self {
            Scope::Operator => None,
            Scope::Tenant(key) => Some(key),
        }
    }

    fn other_tenant(&self) -> ApiError {
        let own = self.tenant().map(TenantKey::as_str).unwrap_or_default();
        ApiError::Forbidden(format!("this token is for tenant {own} only"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(k: &str) -> Scope {
        Scope::Tenant(TenantKey::new(k).expect("key"))
    }

    fn allowed(scope: &Scope, method: Method, path: &str) -> bool {
        scope.authorise(&method, path).is_ok()
    }

    #[test]
    fn operator_may_do_everything() {
        for path in ["/api/v1/tenants", "/api/v1/tenants/87654321", "/api/v1/x"] {
            assert!(allowed(&Scope::Operator, Method::DELETE, path), "{path}");
        }
    }

    #[test]
    fn tenant_token_is_limited_to_its_own_tenant_paths() {
        let a = tenant("12345678");
        assert!(allowed(&a, Method::GET, "/api/v1/tenants"));
        assert!(allowed(&a, Method::GET, "/api/v1/meetings"));
        assert!(allowed(&a, Method::PATCH, "/api/v1/tenants/12345678"));
        assert!(allowed(
            &a,
            Method::POST,
            "/api/v1/tenants/12345678/meetings"
        ));
        assert!(allowed(
            &a,
            Method::POST,
            "/api/v1/meetings/12345678/1177958860/lobby/p7/admit"
        ));
        assert!(!allowed(&a, Method::POST, "/api/v1/tenants"));
        assert!(!allowed(&a, Method::DELETE, "/api/v1/tenants/12345678"));
        assert!(!allowed(&a, Method::GET, "/api/v1/tenants/87654321"));
        assert!(!allowed(
            &a,
            Method::GET,
            "/api/v1/tenants/87654321/devices"
        ));
        assert!(!allowed(
            &a,
            Method::GET,
            "/api/v1/meetings/87654321/1177958860"
        ));
        assert!(
            !allowed(&a, Method::GET, "/api/v1/tenants/%312345678"),
            "encoded key"
        );
        assert!(
            !allowed(&a, Method::GET, "/api/v1/something-new"),
            "deny by default"
        );
    }
}
