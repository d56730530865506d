//! A participant grant as a browser's join link or `Authorization` header brings it: any text,
//! checked against any key at any time; and any payload correctly signed (as a tenant's own
//! key would), so the claim parsing behind the signature check is reached too. Verification must
//! not panic, and what it accepts must be for the tenant it was checked against, not expired, and
//! re-issue to a token that verifies to the same grant.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gateway::grants::{self, GrantKey, GRANT_KEY_BYTES};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use signaling::TenantKey;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    if data.len() < GRANT_KEY_BYTES + 8 {
        return;
    }
    let (key_bytes, rest) = data.split_at(GRANT_KEY_BYTES);
    let (now, body) = rest.split_at(8);
    let key = GrantKey::from_bytes(key_bytes).expect("32 bytes");
    let now = u64::from_le_bytes(now.try_into().expect("8 bytes"));
    let token = if mode & 1 == 0 {
        // The token as sent.
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        text.to_owned()
    } else {
        // Any payload, signed with the key.
        let payload = URL_SAFE_NO_PAD.encode(body);
        let mut mac = Hmac::<Sha256>::new_from_slice(key_bytes).expect("any key length");
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let tenant = TenantKey::new("12345678").expect("valid key");
    if let Ok(grant) = grants::verify(&key, &token, &tenant, now) {
        assert_eq!(grant.tenant, tenant);
        assert!(grant.expires_unix > now);
        let again = grants::issue(&key, &grant, now).expect("a verified grant re-issues");
        assert_eq!(grants::verify(&key, &again, &tenant, now), Ok(grant));
    }
});
