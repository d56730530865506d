//! The directory in memory: [`Snapshot`], every tenant, hostname, prefix, meeting,
//! trusted-device rule and grant key read once from a backend, and [`LiveDirectory`], the snapshot in force,
//! swapped whole when the backend changes. Both implement [`DirectoryRead`], so the SIP driver
//! task answers every INVITE from memory and never waits on a disk.
//!
//! Owns keeping the in-memory copy whole and current once told to reload; it must not decide
//! when the backend changed (the driver watches for that: see `crate::server`) nor write.
//!
//! A reload reads tenants, then their rules, then meetings, without one transaction around them:
//! a write that commits in between may be half in the new snapshot, and is whole in the next one
//! (the watcher reads the change marker before it loads, so that write's change is still seen).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use signaling::{ConferenceId, DialLookup, DialPrefix, LookupError, TenantKey};

use super::model::hostname_key;
use super::read::{DirectoryRead, ReadError};
use super::{Meeting, Tenant, TrustedDevice};
use crate::grants::GrantKey;

/// Every record call control reads, in memory. Cheap to query, immutable once built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    tenants: BTreeMap<TenantKey, Tenant>,
    /// Hostname (lower case, no trailing dot) to the tenant it names.
    hostnames: HashMap<String, TenantKey>,
    /// Dial prefixes; prefix-free by the directory's rules, so at most one matches.
    prefixes: Vec<(DialPrefix, TenantKey)>,
    meetings: BTreeMap<(TenantKey, ConferenceId), Meeting>,
    devices: HashMap<TenantKey, Vec<TrustedDevice>>,
    grant_keys: HashMap<TenantKey, GrantKey>,
}

impl Snapshot {
    /// Reads everything call control needs from `source` ([`DirectoryRead::snapshot`]: a
    /// database directory reads each table once).
    pub fn load(source: &dyn DirectoryRead) -> Result<Self, ReadError> {
        source.snapshot()
    }

    /// Reads everything call control needs from `source` record by record: tenants, then each
    /// tenant's rules and key, then meetings.
    pub fn read_each(source: &(impl DirectoryRead + ?Sized)) -> Result<Self, ReadError> {
        let mut snapshot = Snapshot::default();
        for tenant in source.tenants()? {
            let devices = source.trusted_devices(&tenant.key)?;
            if let Some(key) = source.grant_key(&tenant.key)? {
                snapshot.grant_keys.insert(tenant.key.clone(), key);
            }
            snapshot.insert_tenant(tenant, devices);
        }
        for meeting in source.meetings(None)? {
            snapshot.meetings.insert(
                (meeting.tenant.clone(), meeting.conference_id.clone()),
                meeting,
            );
        }
        Ok(snapshot)
    }

    /// A snapshot of these records: every tenant, every device rule (oldest first), the
    /// tenants' grant keys and every meeting, as whole tables read them.
    pub(super) fn from_tables(
        tenants: Vec<Tenant>,
        devices: Vec<TrustedDevice>,
        keys: Vec<(TenantKey, GrantKey)>,
        meetings: Vec<Meeting>,
    ) -> Self {
        let mut by_tenant: HashMap<TenantKey, Vec<TrustedDevice>> = HashMap::new();
        for device in devices {
            by_tenant
                .entry(device.tenant.clone())
                .or_default()
                .push(device);
        }
        let mut snapshot = Snapshot::default();
        for tenant in tenants {
            let devices = by_tenant.remove(&tenant.key).unwrap_or_default();
            snapshot.insert_tenant(tenant, devices);
        }
        // A table read while a write committed may name a tenant the tenants read did not see;
        // the next reload has it whole.
        for (tenant, key) in keys {
            if snapshot.tenants.contains_key(&tenant) {
                snapshot.grant_keys.insert(tenant, key);
            }
        }
        for meeting in meetings {
            if snapshot.tenants.contains_key(&meeting.tenant) {
                snapshot.meetings.insert(
                    (meeting.tenant.clone(), meeting.conference_id.clone()),
                    meeting,
                );
            }
        }
        snapshot
    }

    fn insert_tenant(&mut self, tenant: Tenant, devices: Vec<TrustedDevice>) {
        for host in &tenant.hostnames {
            self.hostnames
                .insert(hostname_key(host), tenant.key.clone());
        }
        if let Some(prefix) = &tenant.prefix {
            self.prefixes.push((prefix.clone(), tenant.key.clone()));
        }
        if !devices.is_empty() {
            self.devices.insert(tenant.key.clone(), devices);
        }
        self.tenants.insert(tenant.key.clone(), tenant);
    }
}

impl DialLookup for Snapshot {
    fn tenant_exists(&self, key: &TenantKey) -> Result<bool, LookupError> {
        Ok(self.tenants.contains_key(key))
    }

    fn tenant_by_hostname(&self, host: &str) -> Result<Option<TenantKey>, LookupError> {
        Ok(self.hostnames.get(&hostname_key(host)).cloned())
    }

    fn tenant_by_prefix(
        &self,
        digits: &str,
    ) -> Result<Option<(TenantKey, DialPrefix)>, LookupError> {
        Ok(self
            .prefixes
            .iter()
            .find(|(prefix, _)| digits.starts_with(prefix.as_str()))
            .map(|(prefix, key)| (key.clone(), prefix.clone())))
    }

    fn conference_exists(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LookupError> {
        Ok(self
            .meetings
            .contains_key(&(tenant.clone(), conference.clone())))
    }
}

impl DirectoryRead for Snapshot {
    fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, ReadError> {
        Ok(self.tenants.get(key).cloned())
    }

    fn tenants(&self) -> Result<Vec<Tenant>, ReadError> {
        Ok(self.tenants.values().cloned().collect())
    }

    fn meeting(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<Meeting>, ReadError> {
        Ok(self
            .meetings
            .get(&(tenant.clone(), conference.clone()))
            .cloned())
    }

    fn meetings(&self, tenant: Option<&TenantKey>) -> Result<Vec<Meeting>, ReadError> {
        Ok(self
            .meetings
            .values()
            .filter(|m| tenant.is_none_or(|t| m.tenant == *t))
            .cloned()
            .collect())
    }

    fn trusted_devices(&self, tenant: &TenantKey) -> Result<Vec<TrustedDevice>, ReadError> {
        Ok(self.devices.get(tenant).cloned().unwrap_or_default())
    }

    fn grant_key(&self, tenant: &TenantKey) -> Result<Option<GrantKey>, ReadError> {
        Ok(self.grant_keys.get(tenant).cloned())
    }
}

/// The snapshot in force, replaced whole on every reload. Readers take the current `Arc` (a
/// pointer copy under a lock never held for longer) and answer from it, so a reload never
/// blocks a lookup for the time it takes to read the backend.
#[derive(Debug)]
pub struct LiveDirectory {
    current: RwLock<Arc<Snapshot>>,
    /// Serialises reloads: the last reload to finish started after every write before it, so
    /// two writers reloading at once cannot leave the older snapshot in force.
    reloading: Mutex<()>,
}

impl LiveDirectory {
    /// Starts with `snapshot` in force.
    pub fn new(snapshot: Snapshot) -> Self {
        LiveDirectory {
            current: RwLock::new(Arc::new(snapshot)),
            reloading: Mutex::new(()),
        }
    }

    /// Starts with what `source` holds now.
    pub fn load(source: &dyn DirectoryRead) -> Result<Self, ReadError> {
        Ok(Self::new(Snapshot::load(source)?))
    }

    /// The snapshot in force.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads `source` again and puts the result in force. On an error the snapshot in force
    /// stays (calls keep being answered from the last good copy).
    pub fn reload(&self, source: &dyn DirectoryRead) -> Result<(), ReadError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let fresh = Arc::new(Snapshot::load(source)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

impl DialLookup for LiveDirectory {
    fn tenant_exists(&self, key: &TenantKey) -> Result<bool, LookupError> {
        self.current().tenant_exists(key)
    }

    fn tenant_by_hostname(&self, host: &str) -> Result<Option<TenantKey>, LookupError> {
        self.current().tenant_by_hostname(host)
    }

    fn tenant_by_prefix(
        &self,
        digits: &str,
    ) -> Result<Option<(TenantKey, DialPrefix)>, LookupError> {
        self.current().tenant_by_prefix(digits)
    }

    fn conference_exists(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LookupError> {
        self.current().conference_exists(tenant, conference)
    }
}

impl DirectoryRead for LiveDirectory {
    fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, ReadError> {
        self.current().tenant(key)
    }

    fn tenants(&self) -> Result<Vec<Tenant>, ReadError> {
        self.current().tenants()
    }

    fn meeting(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<Meeting>, ReadError> {
        self.current().meeting(tenant, conference)
    }

    fn meetings(&self, tenant: Option<&TenantKey>) -> Result<Vec<Meeting>, ReadError> {
        self.current().meetings(tenant)
    }

    fn trusted_devices(&self, tenant: &TenantKey) -> Result<Vec<TrustedDevice>, ReadError> {
        self.current().trusted_devices(tenant)
    }

    fn grant_key(&self, tenant: &TenantKey) -> Result<Option<GrantKey>, ReadError> {
        self.current().grant_key(tenant)
    }
}

#[cfg(test)]
mod tests;
