//! The gatekeeper registration options of `tessera serve` (`h323-gatekeeper`,
//! `h323-gatekeeper-alias`, `h323-gatekeeper-prefix`, `h323-gatekeeper-ttl-secs`): off without
//! `h323-gatekeeper`.
//!
//! Owns these options' defaults and validation (aliases must be valid H.225.0 aliases); it
//! must not send anything.

use std::net::{SocketAddr, ToSocketAddrs};

use h323::h225::AliasAddress;

use super::{invalid, ConfigError, ServeOptions};

/// The RAS port gatekeepers listen on (H.225.0).
pub const RAS_PORT: u16 = 1719;
/// The time to live asked for when none is configured, in seconds.
pub const DEFAULT_TTL_SECS: u32 = 300;
/// The alias registered when none is configured.
pub const DEFAULT_ALIAS: &str = "tessera";

/// Registration with an H.323 gatekeeper.
#[derive(Debug, Clone)]
pub struct GatekeeperConfig {
    /// The gatekeeper's RAS address.
    pub address: SocketAddr,
    /// Aliases to register (digits: `dialledDigits`, anything else: `h323-ID`).
    pub aliases: Vec<AliasAddress>,
    /// Prefixes the gatekeeper should route to the gateway (`dialledDigits`).
    pub prefixes: Vec<AliasAddress>,
    /// Time to live asked for, seconds.
    pub time_to_live: u32,
}

/// Gatekeeper registration from the flags, else the file; off without `h323-gatekeeper`.
pub(super) fn resolve(
    flags: &ServeOptions,
    file: &ServeOptions,
) -> Result<Option<GatekeeperConfig>, ConfigError> {
    let pick = |f: &Vec<String>, g: &Vec<String>| if f.is_empty() { g.clone() } else { f.clone() };
    let aliases = pick(&flags.h323_gatekeeper_alias, &file.h323_gatekeeper_alias);
    let prefixes = pick(&flags.h323_gatekeeper_prefix, &file.h323_gatekeeper_prefix);
    let ttl = flags
        .h323_gatekeeper_ttl_secs
        .or(file.h323_gatekeeper_ttl_secs);
    let Some(address) = flags
        .h323_gatekeeper
        .as_deref()
        .or(file.h323_gatekeeper.as_deref())
    else {
        if !aliases.is_empty() || !prefixes.is_empty() || ttl.is_some() {
            return Err(invalid(
                "h323-gatekeeper",
                "the gatekeeper alias, prefix and TTL options need --h323-gatekeeper",
            ));
        }
        return Ok(None);
    };
    let address = resolve_address(address)?;
    let aliases = if aliases.is_empty() {
        vec![DEFAULT_ALIAS.to_owned()]
    } else {
        aliases
    };
    let aliases = aliases
        .iter()
        .map(|a| alias(a).map_err(|e| invalid("h323-gatekeeper-alias", format!("{a:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let prefixes = prefixes
        .iter()
        .map(|p| {
            AliasAddress::dialled_digits(p)
                .map_err(|e| invalid("h323-gatekeeper-prefix", format!("{p:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let time_to_live = ttl.unwrap_or(DEFAULT_TTL_SECS);
    if time_to_live < 2 {
        return Err(invalid("h323-gatekeeper-ttl-secs", "must be at least 2"));
    }
    Ok(Some(GatekeeperConfig {
        address,
        aliases,
        prefixes,
        time_to_live,
    }))
}

/// `HOST` or `HOST:PORT` (port 1719 when left out), resolved once at start.
fn resolve_address(text: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let with_port = if text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        text.to_owned()
    } else {
        format!("{text}:{RAS_PORT}")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| invalid("h323-gatekeeper", format!("{text:?}: {e}")))?
        .next()
        .ok_or_else(|| invalid("h323-gatekeeper", format!("{text:?} has no address")))
}

/// An alias from its text: all digits (and `#*,`) is `dialledDigits`, else `h323-ID`.
fn alias(text: &str) -> Result<AliasAddress, h323::h225::Error> {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"#*,".contains(&b))
    {
        AliasAddress::dialled_digits(text)
    } else {
        AliasAddress::h323_id(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(gk: Option<&str>, aliases: &[&str], prefixes: &[&str]) -> ServeOptions {
        ServeOptions {
            h323_gatekeeper: gk.map(str::to_owned),
            h323_gatekeeper_alias: aliases.iter().map(|s| (*s).to_owned()).collect(),
            h323_gatekeeper_prefix: prefixes.iter().map(|s| (*s).to_owned()).collect(),
            ..ServeOptions::default()
        }
    }

    #[test]
    fn off_without_a_gatekeeper_and_its_options_need_one() {
        let none = ServeOptions::default();
        assert!(resolve(&none, &none).unwrap().is_none());
        assert!(resolve(&options(None, &[], &["61"]), &none).is_err());
    }

    #[test]
    fn aliases_by_form_default_port_and_default_alias() {
        let none = ServeOptions::default();
        let c = resolve(
            &options(Some("127.0.0.1"), &["6100", "video gw"], &["61"]),
            &none,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.address, "127.0.0.1:1719".parse::<SocketAddr>().unwrap());
        assert_eq!(
            c.aliases,
            vec![
                AliasAddress::dialled_digits("6100").unwrap(),
                AliasAddress::h323_id("video gw").unwrap()
            ]
        );
        assert_eq!(
            c.prefixes,
            vec![AliasAddress::dialled_digits("61").unwrap()]
        );
        assert_eq!(c.time_to_live, DEFAULT_TTL_SECS);
        let c = resolve(&none, &options(Some("127.0.0.1:1819"), &[], &[]))
            .unwrap()
            .unwrap();
        assert_eq!(c.address.port(), 1819);
        assert_eq!(
            c.aliases,
            vec![AliasAddress::h323_id(DEFAULT_ALIAS).unwrap()]
        );
    }

    #[test]
    fn a_prefix_that_is_not_digits_is_refused() {
        let none = ServeOptions::default();
        assert!(resolve(&options(Some("127.0.0.1"), &[], &["61x"]), &none).is_err());
    }
}
