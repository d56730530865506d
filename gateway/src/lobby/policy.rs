//! The lobby decision of `docs/domain.md`: given a participant's trust class, the meeting's
//! options and whether a trusted participant is already present, bypass or lobby.
//!
//! Owns only the pure decision. It must not keep state (that is [`super::MeetingLobby`]) nor know
//! how a class was established (the SIP layer classifies calls).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value that is not one of a closed set of names (CLI flags, database columns, API fields).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}; expected one of: {expected}")]
pub struct UnknownName {
    /// What was being parsed.
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the order of the domain brief's table.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the CLI, in the database and in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::lobby::UnknownName;
            fn from_str(s: &str) -> Result<Self, $crate::lobby::UnknownName> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::lobby::UnknownName {
                        what: $what,
                        value: s.to_owned(),
                        expected: Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    })
            }
        }
    };
}
/// Closed name sets elsewhere in the crate (grant classes, a tenant's media encryption policy)
/// share this one definition.
pub(crate) use named_enum;

named_enum!(
    /// A participant's trust class (`docs/domain.md`, "Trust classes").
    ParticipantClass, "participant class" {
        /// The meeting's organizer.
        Organizer => "organizer",
        /// Authenticated into the meeting's own organisation.
        SameOrg => "same-org",
        /// An authenticated user invited into the organisation.
        Guest => "guest",
        /// Authenticated in another organisation that is not blocked.
        TrustedOrg => "trusted-org",
        /// Authenticated in an organisation that is not trusted.
        UntrustedOrg => "untrusted-org",
        /// A room system the tenant registered as trusted.
        TrustedVtc => "trusted-vtc",
        /// Any other room system.
        UntrustedVtc => "untrusted-vtc",
        /// Nobody authenticated.
        Anonymous => "anonymous",
        /// A phone dial-in.
        Pstn => "pstn",
    }
);

impl ParticipantClass {
    /// Organizer, same-org, guest, trusted-org and trusted-vtc are trusted; the rest are not.
    pub fn is_trusted(self) -> bool {
        matches!(
            self,
            ParticipantClass::Organizer
                | ParticipantClass::SameOrg
                | ParticipantClass::Guest
                | ParticipantClass::TrustedOrg
                | ParticipantClass::TrustedVtc
        )
    }
}

named_enum!(
    /// The "who can bypass the lobby" meeting option.
    WhoCanBypass, "who-can-bypass value" {
        /// Everyone (untrusted callers still cannot start the meeting alone).
        Everyone => "everyone",
        /// My organisation, trusted organisations and guests.
        TrustedOrgs => "trusted-orgs",
        /// My organisation and guests.
        SameOrg => "same-org",
        /// Only the organizer.
        Organizer => "organizer",
    }
);

/// Bypass the lobby or wait in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LobbyDecision {
    /// Join the meeting now.
    Bypass,
    /// Wait in the lobby.
    Lobby,
}

impl LobbyDecision {
    /// `bypass` or `lobby`.
    pub fn as_str(self) -> &'static str {
        match self {
            LobbyDecision::Bypass => "bypass",
            LobbyDecision::Lobby => "lobby",
        }
    }
}

impl fmt::Display for LobbyDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A meeting's effective lobby options (tenant defaults with the meeting's overrides applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LobbyPolicy {
    /// Who can bypass the lobby.
    pub who_can_bypass: WhoCanBypass,
    /// Phone callers bypass (and may start the meeting).
    pub callers_bypass: bool,
    /// Untrusted participants may start the meeting without a trusted one present.
    pub anonymous_can_start: bool,
    /// Compatibility switch: trusted VTCs bypass even an organizer-only lobby, as one cloud service
    /// was observed to do (`docs/domain.md`, note 1). Off by default.
    pub legacy_trusted_vtc_bypass: bool,
}

impl Default for LobbyPolicy {
    fn default() -> Self {
        LobbyPolicy {
            who_can_bypass: WhoCanBypass::TrustedOrgs,
            callers_bypass: false,
            anonymous_can_start: false,
            legacy_trusted_vtc_bypass: false,
        }
    }
}

impl LobbyPolicy {
    /// The decision for a participant of `class` arriving when a trusted participant is
    /// (`trusted_present`) or is not already in the meeting.
    pub fn decide(&self, class: ParticipantClass, trusted_present: bool) -> LobbyDecision {
        use ParticipantClass as C;
        use WhoCanBypass as W;
        if class.is_trusted() {
            let bypass = match (self.who_can_bypass, class) {
                (_, C::Organizer) => true,
                (W::Everyone | W::TrustedOrgs, _) => true,
                (W::SameOrg, C::TrustedOrg) => false,
                (W::SameOrg, _) => true,
                (W::Organizer, C::TrustedVtc) => self.legacy_trusted_vtc_bypass,
                (W::Organizer, _) => false,
            };
            return if bypass {
                LobbyDecision::Bypass
            } else {
                LobbyDecision::Lobby
            };
        }
        // PSTN with callers-bypass on always bypasses and may start the meeting (note 2).
        if class == C::Pstn && self.callers_bypass {
            return LobbyDecision::Bypass;
        }
        // Untrusted: only "everyone" lets them in, and then only once someone trusted is there
        // or anonymous starts are allowed (note 2).
        if self.who_can_bypass == W::Everyone && (trusted_present || self.anonymous_can_start) {
            LobbyDecision::Bypass
        } else {
            LobbyDecision::Lobby
        }
    }
}
