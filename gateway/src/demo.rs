//! The embedded demo: tenant `12345678` ("Acme", `video.acme.example`, prefix `6`) and its meeting
//! `1177958860` (who can bypass: everyone), so a newcomer can dial something at once.
//!
//! Owns only that seed and the few lines `serve --demo` prints first ([`banner`]). Idempotent:
//! records that already exist are left exactly as they are, and the demo never adds
//! trusted-device rules.

use std::net::SocketAddr;
use std::path::Path;

use signaling::{ConferenceId, DialPrefix, TenantKey};

use crate::directory::{Directory, DirectoryError, NewTenant, PolicyOverrides};
use crate::lobby::{LobbyPolicy, WhoCanBypass};

/// The demo tenant's key.
pub const DEMO_TENANT: &str = "12345678";
/// The demo meeting's conference ID.
pub const DEMO_CONFERENCE: &str = "1177958860";

/// What [`ensure_demo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSeed {
    /// The tenant was created now (false: it existed and was left alone).
    pub tenant_created: bool,
    /// The meeting was created now.
    pub meeting_created: bool,
}

/// What `serve --demo` prints on standard output before anything else: what to dial, and where
/// the admin token is. The token lives beside the database, which need not be in the current
/// directory (`TESSERA_DB`, `--db`), so the file's full path is printed, ready to `cat`;
/// `token_file` is `None` when the token came from `--admin-token` / `TESSERA_ADMIN_TOKEN`.
/// Never the token itself.
pub fn banner(sip: SocketAddr, http: SocketAddr, token_file: Option<&Path>) -> String {
    let token = match token_file {
        Some(path) => format!("$(cat '{}')", path.display()),
        None => "$TESSERA_ADMIN_TOKEN".to_owned(),
    };
    let from = match token_file {
        Some(path) => format!("admin token file: {}", path.display()),
        None => "admin token: the one given with --admin-token / TESSERA_ADMIN_TOKEN".to_owned(),
    };
    format!(
        "Tessera demo: dial {DEMO_TENANT}.{DEMO_CONFERENCE}@{sip}\n\
         {from}\n\
         try: curl -H \"Authorization: Bearer {token}\" \
         http://{http}/api/v1/meetings/{DEMO_TENANT}/{DEMO_CONFERENCE}\n"
    )
}

/// Makes sure the demo tenant and meeting exist.
pub fn ensure_demo(dir: &mut Directory) -> Result<DemoSeed, DirectoryError> {
    let key = TenantKey::new(DEMO_TENANT)?;
    let conference = ConferenceId::new(DEMO_CONFERENCE)?;
    let tenant_created = dir.tenant(&key)?.is_none();
    if tenant_created {
        dir.add_tenant(&NewTenant {
            key: key.clone(),
            name: "Acme".into(),
            hostnames: vec!["video.acme.example".into()],
            prefix: Some(DialPrefix::new("6")?),
            endpoint_licenses: 10,
            cascade_licenses: 2,
            policy: LobbyPolicy::default(),
        })?;
    }
    let meeting_created = dir.meeting(&key, &conference)?.is_none();
    if meeting_created {
        dir.add_meeting(
            &key,
            &conference,
            Some("Demo Organizer"),
            PolicyOverrides {
                who_can_bypass: Some(WhoCanBypass::Everyone),
                ..PolicyOverrides::default()
            },
        )?;
    }
    Ok(DemoSeed {
        tenant_created,
        meeting_created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::TenantUpdate;

    #[test]
    fn the_banner_names_the_token_file_and_a_curl_that_reads_it() {
        let sip = "127.0.0.1:5060".parse().unwrap();
        let http = "127.0.0.1:8080".parse().unwrap();
        let text = banner(sip, http, Some(Path::new("/var/lib/t/gw.db.admin-token")));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Tessera demo: dial 12345678.1177958860@127.0.0.1:5060"
        );
        assert_eq!(lines[1], "admin token file: /var/lib/t/gw.db.admin-token");
        assert_eq!(
            lines[2],
            "try: curl -H \"Authorization: Bearer $(cat '/var/lib/t/gw.db.admin-token')\" \
             http://127.0.0.1:8080/api/v1/meetings/12345678/1177958860"
        );
        let explicit = banner(sip, http, None);
        assert!(explicit.contains("--admin-token"), "{explicit}");
        assert!(!explicit.contains(".admin-token"), "{explicit}");
    }

    #[test]
    fn demo_is_idempotent_and_leaves_existing_records_alone() {
        let mut dir = Directory::open_in_memory().unwrap();
        assert_eq!(
            ensure_demo(&mut dir).unwrap(),
            DemoSeed {
                tenant_created: true,
                meeting_created: true
            }
        );
        let key = TenantKey::new(DEMO_TENANT).unwrap();
        dir.update_tenant(
            &key,
            &TenantUpdate {
                name: Some("Renamed".into()),
                ..TenantUpdate::default()
            },
        )
        .unwrap();
        let before = (dir.tenants().unwrap(), dir.meetings(None).unwrap());
        assert_eq!(
            ensure_demo(&mut dir).unwrap(),
            DemoSeed {
                tenant_created: false,
                meeting_created: false
            }
        );
        assert_eq!(
            (dir.tenants().unwrap(), dir.meetings(None).unwrap()),
            before
        );
        assert!(dir.trusted_devices(&key).unwrap().is_empty());
        let policy = dir
            .effective_policy(&key, &ConferenceId::new(DEMO_CONFERENCE).unwrap())
            .unwrap();
        assert_eq!(policy.who_can_bypass, WhoCanBypass::Everyone);
    }
}
