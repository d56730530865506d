//! Every dial format of `docs/domain.md` resolved against an in-memory directory, plus the
//! refusals and the no-cross-tenant rule.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use signaling::dial::DialUser;
use signaling::{
    ConferenceId, DialError, DialLookup, DialPrefix, DialString, LookupError, ResolvedDial, Route,
    TenantKey,
};

#[derive(Default)]
struct Directory {
    tenants: HashSet<String>,
    hosts: HashMap<String, String>,
    prefixes: Vec<(String, String)>,
    meetings: HashSet<(String, String)>,
}

impl Directory {
    fn tenant(mut self, key: &str, host: Option<&str>, prefix: Option<&str>) -> Self {
        self.tenants.insert(key.into());
        if let Some(h) = host {
            self.hosts.insert(h.to_ascii_lowercase(), key.into());
        }
        if let Some(p) = prefix {
            self.prefixes.push((p.into(), key.into()));
        }
        self
    }
    fn meeting(mut self, key: &str, conf: &str) -> Self {
        self.meetings.insert((key.into(), conf.into()));
        self
    }
}

impl DialLookup for Directory {
    fn tenant_exists(&self, key: &TenantKey) -> Result<bool, LookupError> {
        Ok(self.tenants.contains(key.as_str()))
    }
    fn tenant_by_hostname(&self, host: &str) -> Result<Option<TenantKey>, LookupError> {
        Ok(self
            .hosts
            .get(&host.to_ascii_lowercase())
            .map(|k| TenantKey::new(k).unwrap()))
    }
    fn tenant_by_prefix(
        &self,
        digits: &str,
    ) -> Result<Option<(TenantKey, DialPrefix)>, LookupError> {
        Ok(self
            .prefixes
            .iter()
            .find(|(p, _)| digits.starts_with(p.as_str()))
            .map(|(p, k)| (TenantKey::new(k).unwrap(), DialPrefix::new(p).unwrap())))
    }
    fn conference_exists(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LookupError> {
        Ok(self
            .meetings
            .contains(&(tenant.to_string(), conference.to_string())))
    }
}

fn demo() -> Directory {
    Directory::default()
        .tenant("12345678", Some("video.acme.example"), Some("6"))
        .meeting("12345678", "1177958860")
        .tenant("87654321", Some("video.globex.example"), Some("70"))
        .meeting("87654321", "2299887766")
}

fn resolve(s: &str) -> Result<ResolvedDial, DialError> {
    DialString::parse(s)?.resolve(&demo())
}

fn line(s: &str) -> String {
    resolve(s)
        .unwrap_or_else(|e| panic!("{s:?} should resolve: {e}"))
        .to_string()
}

#[test]
fn direct_dial_resolves_in_both_orders() {
    let want = "tenant=12345678 conference=1177958860 route=direct";
    assert_eq!(line("sip:12345678.1177958860@gw.example.com"), want);
    assert_eq!(line("sip:1177958860.12345678@gw.example.com"), want);
    assert_eq!(line("12345678.1177958860"), want);
    assert_eq!(
        line("\"Room\" <sips:12345678.1177958860@10.0.0.1:5061>"),
        want
    );
    assert_eq!(line("h323:1177958860.12345678@gw"), want);
    assert_eq!(line("gw##12345678.1177958860"), want);
}

#[test]
fn tenant_hostname_resolves_conference() {
    assert_eq!(
        line("sip:1177958860@video.acme.example"),
        "tenant=12345678 conference=1177958860 route=domain"
    );
    assert_eq!(
        line("sip:1177958860@VIDEO.Acme.Example;transport=tcp"),
        "tenant=12345678 conference=1177958860 route=domain"
    );
}

#[test]
fn bare_tenant_key_goes_to_entry_queue() {
    assert_eq!(
        line("sip:12345678@gw.example.com"),
        "tenant=12345678 conference=- route=entry-queue"
    );
    assert_eq!(
        line("sip:12345678@video.acme.example"),
        "tenant=12345678 conference=- route=entry-queue"
    );
}

#[test]
fn dial_prefix_selects_tenant() {
    assert_eq!(
        line("sip:61177958860@gw.example.com"),
        "tenant=12345678 conference=1177958860 route=prefix"
    );
    assert_eq!(
        line("702299887766"),
        "tenant=87654321 conference=2299887766 route=prefix"
    );
}

#[test]
fn conference_of_another_tenant_never_resolves() {
    // Globex's meeting, addressed through Acme in every way Acme can be addressed.
    for s in [
        "sip:12345678.2299887766@gw",
        "sip:2299887766.12345678@gw",
        "sip:2299887766@video.acme.example",
        "sip:62299887766@gw",
        "sip:87654321.2299887766@video.acme.example",
    ] {
        match resolve(s) {
            Err(DialError::UnknownConference { tenant, .. }) => {
                assert_eq!(tenant, "12345678", "{s}")
            }
            other => panic!("{s:?} must not resolve: {other:?}"),
        }
    }
}

#[test]
fn unknown_tenant_and_conference_are_distinguished() {
    assert!(matches!(
        resolve("sip:99999999.1177958860@gw"),
        Err(DialError::UnknownTenant(_))
    ));
    assert!(matches!(
        resolve("sip:99999999@gw"),
        Err(DialError::UnknownTenant(_))
    ));
    assert!(matches!(
        resolve("sip:1177958860@gw"),
        Err(DialError::UnknownTenant(_))
    ));
    assert!(matches!(
        resolve("sip:12345678.1111111111@gw"),
        Err(DialError::UnknownConference { .. })
    ));
    assert!(matches!(
        resolve("sip:61111111111@gw"),
        Err(DialError::UnknownConference { .. })
    ));
    assert!(matches!(
        resolve("sip:1111111111@video.acme.example"),
        Err(DialError::UnknownConference { .. })
    ));
    assert!(matches!(
        resolve("sip:1.2@gw"),
        Err(DialError::NotADialString(_))
    ));
    assert!(matches!(
        resolve("tel:+15551234567"),
        Err(DialError::NotADialString(_))
    ));
}

#[test]
fn key_that_is_also_a_conference_id_resolves_key_first() {
    // 12345678 is both a valid key and a valid conference ID shape; 87654321 too.
    let dir = demo().meeting("12345678", "87654321");
    let d = DialString::parse("sip:12345678.87654321@gw").unwrap();
    let r = d.resolve(&dir).unwrap();
    assert_eq!(r.tenant.as_str(), "12345678");
    assert_eq!(r.conference.unwrap().as_str(), "87654321");
    assert_eq!(r.route, Route::Direct);
}

fn dial_string() -> impl Strategy<Value = DialString> {
    let digits = "[0-9]{1,16}";
    let user = prop_oneof![
        digits.prop_map(DialUser::Digits),
        (digits, digits).prop_map(|(a, b)| DialUser::Pair(a, b)),
    ];
    let scheme = prop_oneof![
        Just(signaling::dial::Scheme::Sip),
        Just(signaling::dial::Scheme::Sips),
        Just(signaling::dial::Scheme::H323),
        Just(signaling::dial::Scheme::Bare),
    ];
    let host = prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9-]{1,8}){0,3}",
        Just("[2001:db8::1]".to_owned()),
        Just("192.0.2.7".to_owned()),
    ];
    let param = (
        "[a-z][a-z0-9-]{0,8}",
        proptest::option::of("[a-zA-Z0-9.-]{1,8}"),
    );
    (
        proptest::option::of("[ -~&&[^\"\\\\]]{0,12}[A-Za-z]"),
        scheme,
        proptest::option::of("[a-z0-9.]{1,8}"),
        user,
        proptest::option::of((host, proptest::option::of(1u16..))),
        proptest::collection::vec(param.clone(), 0..3),
        proptest::collection::vec(param, 0..2),
    )
        .prop_map(
            |(display_name, scheme, via, user, hostport, uri_params, header_params)| {
                let (host, port) = match hostport {
                    Some((h, p)) => (Some(h), p),
                    None => (None, None),
                };
                DialString {
                    display_name: display_name.map(|n| n.trim().to_owned()),
                    scheme,
                    via,
                    user,
                    host,
                    port,
                    uri_params,
                    uri_headers: None,
                    header_params,
                }
            },
        )
}

proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = DialString::parse(&s);
    }

    #[test]
    fn parser_never_panics_on_uri_like_input(s in "[<>\"@:;=.#%\\[\\]a-zA-Z0-9 ]{0,60}") {
        let _ = DialString::parse(&s);
    }

    #[test]
    fn accepted_input_round_trips(s in "(sip:|sips:|h323:)?([a-z0-9]{1,4}##)?[0-9]{1,12}(\\.[0-9]{1,12})?(@[a-z0-9.]{1,12}(:[0-9]{1,5})?)?(;[a-z]{1,5}(=[a-z0-9]{1,5})?){0,2}") {
        if let Ok(d) = DialString::parse(&s) {
            prop_assert_eq!(DialString::parse(&d.to_string()).unwrap(), d);
        }
    }

    #[test]
    fn generated_dial_strings_round_trip(d in dial_string()) {
        let text = d.to_string();
        let parsed = DialString::parse(&text);
        prop_assert!(parsed.is_ok(), "{} -> {:?}", text, parsed);
        prop_assert_eq!(parsed.unwrap(), d);
    }

    #[test]
    fn resolution_never_panics(s in "(sip:)?[0-9]{1,16}(\\.[0-9]{1,16})?(@(gw|video\\.acme\\.example))?") {
        if let Ok(d) = DialString::parse(&s) {
            let _ = d.resolve(&demo());
        }
    }
}
