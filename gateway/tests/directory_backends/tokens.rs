//! The shared suite's cases for tenant tokens and grant keys (see `directory_backends.rs`).

use super::{acme, globex, key, Db};
use gateway::directory::{DirectoryError, DirectoryRead, Snapshot};

pub(crate) fn created_tenant_token_verifies_and_lists_without_its_secret(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    let created = dir
        .create_tenant_token(&key("12345678"), Some("  booking system "))
        .unwrap();
    assert_eq!(created.secret.len(), 64);
    assert!(created.secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created.token.label.as_deref(), Some("booking system"));
    assert!(
        created.token.created.ends_with('Z'),
        "{}",
        created.token.created
    );
    assert!(!format!("{created:?}").contains(&created.secret));

    assert_eq!(
        dir.tenant_for_token(&created.secret).unwrap(),
        Some(key("12345678"))
    );
    assert_eq!(dir.tenant_for_token(&created.secret[1..]).unwrap(), None);
    assert_eq!(dir.tenant_for_token("").unwrap(), None);

    let listed = dir.tenant_tokens(&key("12345678")).unwrap();
    assert_eq!(listed, std::slice::from_ref(&created.token));
    let json = listed[0].to_json().to_string();
    assert!(!json.contains(&created.secret), "{json}");
    // Only the SHA-256 is stored.
    let rows = db.token_hashes();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0], created.secret);
    assert_eq!(rows[0].len(), 64);
    assert!(!json.contains(&rows[0]), "{json}");
}

pub(crate) fn each_created_tenant_token_is_new(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    let a = dir.create_tenant_token(&key("12345678"), None).unwrap();
    let b = dir.create_tenant_token(&key("12345678"), None).unwrap();
    assert_ne!(a.secret, b.secret);
    assert_ne!(a.token.id, b.token.id);
    assert_eq!(dir.tenant_tokens(&key("12345678")).unwrap().len(), 2);
}

pub(crate) fn revoked_tenant_token_no_longer_verifies(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let keep = dir.create_tenant_token(&key("12345678"), None).unwrap();
    let gone = dir.create_tenant_token(&key("12345678"), None).unwrap();
    dir.revoke_tenant_token(&key("12345678"), gone.token.id)
        .unwrap();
    assert_eq!(dir.tenant_for_token(&gone.secret).unwrap(), None);
    assert_eq!(
        dir.tenant_for_token(&keep.secret).unwrap(),
        Some(key("12345678"))
    );
    assert_eq!(
        dir.tenant_tokens(&key("12345678")).unwrap(),
        std::slice::from_ref(&keep.token)
    );

    // Revoking again, or through another tenant, is refused and changes nothing.
    let before = db.token_hashes();
    assert!(matches!(
        dir.revoke_tenant_token(&key("12345678"), gone.token.id),
        Err(DirectoryError::UnknownToken { id, .. }) if id == gone.token.id
    ));
    assert!(matches!(
        dir.revoke_tenant_token(&key("87654321"), keep.token.id),
        Err(DirectoryError::UnknownToken { .. })
    ));
    assert_eq!(db.token_hashes(), before);
}

pub(crate) fn tenant_tokens_go_with_their_tenant(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let acme_token = dir.create_tenant_token(&key("12345678"), None).unwrap();
    let globex_token = dir.create_tenant_token(&key("87654321"), None).unwrap();
    dir.remove_tenant(&key("12345678")).unwrap();
    assert_eq!(dir.tenant_for_token(&acme_token.secret).unwrap(), None);
    assert_eq!(
        dir.tenant_for_token(&globex_token.secret).unwrap(),
        Some(key("87654321"))
    );
    // A tenant re-created with the same key does not inherit the old tokens.
    dir.add_tenant(&acme()).unwrap();
    assert_eq!(dir.tenant_for_token(&acme_token.secret).unwrap(), None);
    assert!(dir.tenant_tokens(&key("12345678")).unwrap().is_empty());
}

pub(crate) fn refused_tenant_token_writes_change_nothing(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    assert!(matches!(
        dir.create_tenant_token(&key("99999999"), None),
        Err(DirectoryError::UnknownTenant(_))
    ));
    assert!(matches!(
        dir.create_tenant_token(&key("12345678"), Some("bad\nlabel")),
        Err(DirectoryError::Invalid { field: "label", .. })
    ));
    assert!(matches!(
        dir.create_tenant_token(&key("12345678"), Some("   ")),
        Err(DirectoryError::Invalid { field: "label", .. })
    ));
    assert!(db.token_hashes().is_empty());
    assert!(matches!(
        dir.tenant_tokens(&key("99999999")),
        Err(DirectoryError::UnknownTenant(_))
    ));
}

pub(crate) fn tenant_gets_its_own_grant_key_when_added_and_loses_it_when_removed(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let a = dir.grant_key(&key("12345678")).unwrap().unwrap();
    let b = dir.grant_key(&key("87654321")).unwrap().unwrap();
    assert_ne!(a, b);
    assert_eq!(dir.grant_key(&key("12345678")).unwrap(), Some(a));
    dir.remove_tenant(&key("12345678")).unwrap();
    assert_eq!(dir.grant_key(&key("12345678")).unwrap(), None);
}

pub(crate) fn snapshot_carries_each_tenants_grant_key(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    let snap = Snapshot::load(&dir).unwrap();
    assert_eq!(
        DirectoryRead::grant_key(&snap, &key("12345678")).unwrap(),
        dir.grant_key(&key("12345678")).unwrap()
    );
    assert_eq!(
        DirectoryRead::grant_key(&snap, &key("87654321")).unwrap(),
        None
    );
}
