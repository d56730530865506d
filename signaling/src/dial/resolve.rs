//! Resolution of a [`DialString`] into tenant + conference + route, through [`DialLookup`].
//!
//! The rules, in order (`docs/domain.md`, "Addressing"):
//! 1. `a.b`: tenant key `a` and conference `b` ([`Route::Direct`]); failing that, `b` and `a`.
//! 2. `digits@host` where `host` is a tenant's hostname: that tenant's conference
//!    ([`Route::Domain`]), its own key (entry queue), or its prefix + conference.
//! 3. `digits` equal to a tenant key: the tenant's entry queue ([`Route::EntryQueue`]).
//! 4. `digits` starting with a tenant's dial prefix: prefix + conference ([`Route::Prefix`]).
//!
//! A conference is only ever looked up under the one tenant the dial string names, so a meeting
//! that exists under another tenant never resolves.

use std::fmt;

use super::{DialError, DialString, DialUser};
use crate::ids::{ConferenceId, DialPrefix, TenantKey};

/// A failure of the directory behind [`DialLookup`] (not a "not found": that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
#[error("directory lookup failed: {0}")]
pub struct LookupError(#[from] pub Box<dyn std::error::Error + Send + Sync>);

/// What the dial plan needs to know about tenants and meetings. Implemented by the gateway's
/// directory; lookups must be exact (no fuzzy matching) and case-insensitive for hostnames.
pub trait DialLookup {
    /// Whether a tenant with this key exists.
    fn tenant_exists(&self, key: &TenantKey) -> Result<bool, LookupError>;
    /// The tenant that owns this hostname (compared case-insensitively), if any.
    fn tenant_by_hostname(&self, host: &str) -> Result<Option<TenantKey>, LookupError>;
    /// The tenant whose dial prefix starts `digits`, with that prefix. Prefixes are prefix-free,
    /// so at most one tenant matches.
    fn tenant_by_prefix(
        &self,
        digits: &str,
    ) -> Result<Option<(TenantKey, DialPrefix)>, LookupError>;
    /// Whether `tenant` has a meeting with this conference ID.
    fn conference_exists(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LookupError>;
}

/// How a dial string reached its meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `key.conf@host` or `conf.key@host`.
    Direct,
    /// `conf@tenant-hostname`.
    Domain,
    /// `key@host`: the tenant's entry queue; the conference ID is collected as DTMF.
    EntryQueue,
    /// `<prefix><conf>@host`.
    Prefix,
}

impl Route {
    /// The name used in CLI output, metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Domain => "domain",
            Route::EntryQueue => "entry-queue",
            Route::Prefix => "prefix",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a dial string leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDial {
    /// The tenant.
    pub tenant: TenantKey,
    /// The meeting; `None` for [`Route::EntryQueue`].
    pub conference: Option<ConferenceId>,
    /// How it was reached.
    pub route: Route,
}

impl fmt::Display for ResolvedDial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conference = self.conference.as_ref().map_or("-", ConferenceId::as_str);
        write!(
            f,
            "tenant={} conference={conference} route={}",
            self.tenant, self.route
        )
    }
}

fn meeting<L: DialLookup + ?Sized>(
    lookup: &L,
    tenant: TenantKey,
    conference: &str,
    route: Route,
) -> Result<ResolvedDial, DialError> {
    let unknown = || DialError::UnknownConference {
        tenant: tenant.to_string(),
        conference: conference.to_owned(),
    };
    let Ok(id) = ConferenceId::new(conference) else {
        return Err(unknown());
    };
    if !lookup.conference_exists(&tenant, &id)? {
        return Err(unknown());
    }
    Ok(ResolvedDial {
        tenant,
        conference: Some(id),
        route,
    })
}

impl DialString {
    /// Finds the meeting (or entry queue) this dial string names. See the module doc for the rules.
    pub fn resolve<L: DialLookup + ?Sized>(&self, lookup: &L) -> Result<ResolvedDial, DialError> {
        let host_tenant = match &self.host {
            Some(host) => lookup.tenant_by_hostname(host)?,
            None => None,
        };
        match &self.user {
            DialUser::Pair(a, b) => resolve_pair(lookup, host_tenant, a, b),
            DialUser::Digits(digits) => match host_tenant {
                Some(tenant) => resolve_at_tenant_host(lookup, tenant, digits),
                None => resolve_digits(lookup, digits),
            },
        }
    }
}

/// `a.b`: key first, then conference first. A tenant hostname restricts both orders to its tenant.
fn resolve_pair<L: DialLookup + ?Sized>(
    lookup: &L,
    host_tenant: Option<TenantKey>,
    a: &str,
    b: &str,
) -> Result<ResolvedDial, DialError> {
    let mut first_miss = None;
    for (key, conference) in [(a, b), (b, a)] {
        let Ok(key) = TenantKey::new(key) else {
            continue;
        };
        if ConferenceId::new(conference).is_err() {
            continue;
        }
        let allowed = host_tenant.as_ref().is_none_or(|t| *t == key);
        if !allowed || !lookup.tenant_exists(&key)? {
            continue;
        }
        match meeting(lookup, key, conference, Route::Direct) {
            Ok(found) => return Ok(found),
            Err(e @ DialError::UnknownConference { .. }) => {
                first_miss.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(miss) = first_miss {
        return Err(miss);
    }
    if let Some(tenant) = host_tenant {
        return Err(DialError::UnknownConference {
            tenant: tenant.to_string(),
            conference: format!("{a}.{b}"),
        });
    }
    let shaped = |k: &str, c: &str| TenantKey::new(k).is_ok() && ConferenceId::new(c).is_ok();
    if !shaped(a, b) && !shaped(b, a) {
        return Err(DialError::NotADialString(format!(
            "{a}.{b} is not a tenant key ({}-{} digits) and a conference ID ({}-{} digits)",
            TenantKey::MIN_DIGITS,
            TenantKey::MAX_DIGITS,
            ConferenceId::MIN_DIGITS,
            ConferenceId::MAX_DIGITS
        )));
    }
    Err(DialError::UnknownTenant(format!(
        "neither {a} nor {b} is a tenant key"
    )))
}

/// `digits@tenant-hostname`: a conference of that tenant, its key (entry queue), or its prefix.
fn resolve_at_tenant_host<L: DialLookup + ?Sized>(
    lookup: &L,
    tenant: TenantKey,
    digits: &str,
) -> Result<ResolvedDial, DialError> {
    if let Ok(id) = ConferenceId::new(digits) {
        if lookup.conference_exists(&tenant, &id)? {
            return Ok(ResolvedDial {
                tenant,
                conference: Some(id),
                route: Route::Domain,
            });
        }
    }
    if digits == tenant.as_str() {
        return Ok(ResolvedDial {
            tenant,
            conference: None,
            route: Route::EntryQueue,
        });
    }
    if let Some((owner, prefix)) = lookup.tenant_by_prefix(digits)? {
        if owner == tenant {
            return meeting(
                lookup,
                owner,
                &digits[prefix.as_str().len()..],
                Route::Prefix,
            );
        }
    }
    Err(DialError::UnknownConference {
        tenant: tenant.to_string(),
        conference: digits.to_owned(),
    })
}

/// `digits` at the gateway's own host: a tenant key (entry queue) or prefix + conference.
fn resolve_digits<L: DialLookup + ?Sized>(
    lookup: &L,
    digits: &str,
) -> Result<ResolvedDial, DialError> {
    if let Ok(key) = TenantKey::new(digits) {
        if lookup.tenant_exists(&key)? {
            return Ok(ResolvedDial {
                tenant: key,
                conference: None,
                route: Route::EntryQueue,
            });
        }
    }
    if let Some((tenant, prefix)) = lookup.tenant_by_prefix(digits)? {
        return meeting(
            lookup,
            tenant,
            &digits[prefix.as_str().len()..],
            Route::Prefix,
        );
    }
    Err(DialError::UnknownTenant(format!(
        "{digits} is no tenant key and starts with no tenant's dial prefix"
    )))
}
