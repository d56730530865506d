//! A browser's trickle-ICE fragment (`application/trickle-ice-sdpfrag`, RFC 8840 §9, sent in a
//! WHIP `PATCH`, RFC 9725 §4.3): its ICE credentials (new ones ask for an ICE restart), the
//! candidates it trickles, per media section, and whether it says it has no more; and the
//! fragment the gateway answers a restart with.
//!
//! A line scanner, like [`crate::browser_offer`]: the WebRTC stack checks candidates itself.
//! It must refuse, with a reason, a fragment whose credentials are malformed (RFC 8839 §5.4:
//! `ice-char` only, ufrag 4 to 256 characters, password 22 to 256), half a credential pair, or
//! a body too large; it must never panic. Owns only this reading and writing; it must not
//! decide whether a restart happens.

/// Largest fragment read (a browser's restart with a few candidates is well under 4 kB).
pub const MAX_FRAGMENT: usize = 16 * 1024;

/// Why a fragment cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// Larger than [`MAX_FRAGMENT`] bytes.
    #[error("the fragment is larger than {MAX_FRAGMENT} bytes")]
    TooLarge,
    /// A line that is not `<letter>=<value>`.
    #[error("line {0} is not an SDP line")]
    NotSdp(usize),
    /// An `a=ice-ufrag` that breaks RFC 8839's grammar.
    #[error("the ICE username fragment is malformed")]
    BadUfrag,
    /// An `a=ice-pwd` that breaks RFC 8839's grammar.
    #[error("the ICE password is malformed")]
    BadPwd,
    /// A username fragment without a password, or the reverse.
    #[error("a fragment must carry both the ICE username fragment and the password, or neither")]
    HalfCredentials,
    /// Two different username fragments (or passwords) in one fragment.
    #[error("the fragment carries conflicting ICE credentials")]
    ConflictingCredentials,
}

/// ICE credentials: username fragment and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCredentials {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
}

/// One trickled candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The `a=mid` of the media section it follows, if one was given before it.
    pub mid: Option<String>,
    /// The attribute value after `a=candidate:`.
    pub value: String,
}

/// A parsed fragment. See the module doc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceFragment {
    /// The credentials it carries, if any.
    pub credentials: Option<IceCredentials>,
    /// Its candidates, in order.
    pub candidates: Vec<Candidate>,
    /// `a=end-of-candidates` was present.
    pub end_of_candidates: bool,
}

/// Whether `s` is `ice-char`s (ALPHA / DIGIT / "+" / "/") of a length in `len`.
fn ice_chars(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Keeps the one value `slot` may hold: a second, different one is a conflict.
fn once(slot: &mut Option<String>, value: &str) -> Result<(), FragmentError> {
    match slot {
        Some(held) if held != value => Err(FragmentError::ConflictingCredentials),
        Some(_) => Ok(()),
        None => {
            *slot = Some(value.to_owned());
            Ok(())
        }
    }
}

impl IceFragment {
    /// Reads a fragment. Lines end in CRLF or LF; lines other than the ones read
    /// (`a=ice-options`, `a=group`, `m=`, ...) are passed over.
    ///
    /// # Errors
    /// See [`FragmentError`].
    pub fn parse(text: &str) -> Result<IceFragment, FragmentError> {
        if text.len() > MAX_FRAGMENT {
            return Err(FragmentError::TooLarge);
        }
        Self::read(text)
    }

    fn read(text: &str) -> Result<IceFragment, FragmentError> {
        let mut fragment = IceFragment::default();
        let (mut ufrag, mut pwd) = (None, None);
        let mut mid: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let b = line.as_bytes();
            if b.len() < 2 || !b[0].is_ascii_lowercase() || b[1] != b'=' {
                return Err(FragmentError::NotSdp(n + 1));
            }
            let Some(attribute) = line.strip_prefix("a=") else {
                if line.starts_with("m=") {
                    mid = None;
                }
                continue;
            };
            let (name, value) = attribute.split_once(':').unwrap_or((attribute, ""));
            match name {
                "ice-ufrag" => {
                    if !ice_chars(value, 4..=256) {
                        return Err(FragmentError::BadUfrag);
                    }
                    once(&mut ufrag, value)?;
                }
                "ice-pwd" => {
                    if !ice_chars(value, 22..=256) {
                        return Err(FragmentError::BadPwd);
                    }
                    once(&mut pwd, value)?;
                }
                "mid" => mid = Some(value.to_owned()),
                "candidate" => fragment.candidates.push(Candidate {
                    mid: mid.clone(),
                    value: value.to_owned(),
                }),
                "end-of-candidates" => fragment.end_of_candidates = true,
                _ => {}
            }
        }
        fragment.credentials = match (ufrag, pwd) {
            (Some(ufrag), Some(pwd)) => Some(IceCredentials { ufrag, pwd }),
            (None, None) => None,
            _ => return Err(FragmentError::HalfCredentials),
        };
        Ok(fragment)
    }

    /// Reads the ICE part of a whole description (no size limit of a fragment: the caller's
    /// own, or one the WebRTC stack already accepted).
    ///
    /// # Errors
    /// As [`IceFragment::parse`], but never [`FragmentError::TooLarge`].
    pub fn parse_description(sdp: &str) -> Result<IceFragment, FragmentError> {
        Self::read(sdp)
    }

    /// Whether the fragment asks for an ICE restart: it carries credentials other than
    /// `current` (the username fragment of the offer the session was set up with).
    pub fn is_restart(&self, current_ufrag: &str) -> bool {
        self.credentials
            .as_ref()
            .is_some_and(|c| c.ufrag != current_ufrag)
    }
}

/// The gateway's answer to a restart (RFC 9725 §4.3.2): its new credentials, then, per media
/// section, `a=mid` and its candidates (values after `a=candidate:`), each with
/// `a=end-of-candidates` (the gateway is ICE-lite: it has them all). CRLF line ends.
pub fn answer_fragment(credentials: &IceCredentials, sections: &[(String, Vec<String>)]) -> String {
    let mut out = format!(
        "a=ice-lite\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
        credentials.ufrag, credentials.pwd
    );
    for (mid, candidates) in sections {
        out.push_str(&format!("a=mid:{mid}\r\n"));
        for c in candidates {
            out.push_str(&format!("a=candidate:{c}\r\n"));
        }
        out.push_str("a=end-of-candidates\r\n");
    }
    out
}

/// `sdp` with every `a=ice-ufrag` and `a=ice-pwd` line carrying `credentials` instead (the
/// description in force, as the restarted side's new one). Line ends are kept.
pub fn replace_credentials(sdp: &str, credentials: &IceCredentials) -> String {
    sdp.split_inclusive('\n')
        .map(|line| {
            let end = &line[line.trim_end_matches(['\r', '\n']).len()..];
            if line.starts_with("a=ice-ufrag:") {
                format!("a=ice-ufrag:{}{end}", credentials.ufrag)
            } else if line.starts_with("a=ice-pwd:") {
                format!("a=ice-pwd:{}{end}", credentials.pwd)
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// The fragment answering a restart, read from the restarted side's whole description (its
/// credentials, and its candidates by media section).
///
/// # Errors
/// The description has malformed or no credentials ([`FragmentError::HalfCredentials`] when
/// it has none).
pub fn fragment_of_description(sdp: &str) -> Result<String, FragmentError> {
    let read = IceFragment::parse_description(sdp)?;
    let credentials = read.credentials.ok_or(FragmentError::HalfCredentials)?;
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for c in read.candidates {
        let mid = c.mid.unwrap_or_default();
        match sections.iter_mut().find(|(m, _)| *m == mid) {
            Some((_, list)) => list.push(c.value),
            None => sections.push((mid, vec![c.value])),
        }
    }
    Ok(answer_fragment(&credentials, &sections))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 8840 §4.4's example, as a browser PATCHes it for a restart.
    const RESTART: &str = "a=ice-options:trickle ice2\r\n\
        a=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:0\r\n\
        a=ice-ufrag:EsAw\r\n\
        a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n\
        a=candidate:1 1 UDP 2130706431 198.51.100.1 39132 typ host\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn a_restart_fragment_gives_credentials_and_candidates() {
        let f = IceFragment::parse(RESTART).unwrap();
        assert_eq!(
            f.credentials,
            Some(IceCredentials {
                ufrag: "EsAw".into(),
                pwd: "bP+XJMM09aR8AiX1jdukzR6Y".into()
            })
        );
        assert_eq!(f.candidates.len(), 1);
        assert_eq!(f.candidates[0].mid.as_deref(), Some("0"));
        assert!(f.end_of_candidates);
        assert!(f.is_restart("oldU"));
        assert!(!f.is_restart("EsAw"));
    }

    #[test]
    fn a_plain_trickle_has_no_credentials_and_is_no_restart() {
        let f =
            IceFragment::parse("a=mid:0\na=candidate:2 1 UDP 1 10.0.0.1 5000 typ host\n").unwrap();
        assert_eq!(f.credentials, None);
        assert!(!f.is_restart("x"));
        assert_eq!(IceFragment::parse(""), Ok(IceFragment::default()));
    }

    #[test]
    fn malformed_credentials_are_refused_with_a_reason() {
        let pwd = "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\n";
        assert_eq!(
            IceFragment::parse(&format!("a=ice-ufrag:abc\n{pwd}")),
            Err(FragmentError::BadUfrag)
        );
        assert_eq!(
            IceFragment::parse(&format!("a=ice-ufrag:ab-cd\n{pwd}")),
            Err(FragmentError::BadUfrag)
        );
        assert_eq!(
            IceFragment::parse("a=ice-ufrag:abcd\na=ice-pwd:short\n"),
            Err(FragmentError::BadPwd)
        );
        assert_eq!(
            IceFragment::parse("a=ice-ufrag:abcd\n"),
            Err(FragmentError::HalfCredentials)
        );
        assert_eq!(
            IceFragment::parse(&format!("a=ice-ufrag:abcd\na=ice-ufrag:efgh\n{pwd}")),
            Err(FragmentError::ConflictingCredentials)
        );
        assert_eq!(IceFragment::parse("hello\n"), Err(FragmentError::NotSdp(1)));
        assert_eq!(
            IceFragment::parse(&"a=x\n".repeat(5000)),
            Err(FragmentError::TooLarge)
        );
    }

    fn ice_string(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    .chars()
                    .collect::<Vec<_>>(),
            ),
            len,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    #[test]
    fn a_description_gets_new_credentials_and_gives_its_fragment() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:oldU\r\n\
            a=ice-pwd:oldpasswordoldpassword\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:1\r\na=ice-ufrag:oldU\r\n\
            a=ice-pwd:oldpasswordoldpassword\r\n";
        let new = IceCredentials {
            ufrag: "newU".into(),
            pwd: "newpasswordnewpassword".into(),
        };
        let replaced = replace_credentials(sdp, &new);
        assert_eq!(replaced.len(), sdp.len());
        assert!(!replaced.contains("old"));
        assert!(replaced.ends_with("a=ice-pwd:newpasswordnewpassword\r\n"));
        let fragment = fragment_of_description(&replaced).unwrap();
        assert_eq!(
            fragment,
            "a=ice-lite\r\na=ice-ufrag:newU\r\na=ice-pwd:newpasswordnewpassword\r\n\
             a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
             a=end-of-candidates\r\n"
        );
        assert_eq!(
            fragment_of_description("v=0\r\n"),
            Err(FragmentError::HalfCredentials)
        );
    }

    proptest! {
        /// The gateway's own answer fragment reads back as the credentials and candidates it
        /// was written from.
        #[test]
        fn an_answer_fragment_reads_back(
            ufrag in ice_string(4..=32),
            pwd in ice_string(22..=64),
            sections in proptest::collection::vec(
                ("[0-9]{1,2}", proptest::collection::vec("[0-9] 1 udp [0-9]{1,9} 10\\.0\\.0\\.[0-9] [0-9]{4} typ host", 0..3)),
                0..4,
            ),
        ) {
            let credentials = IceCredentials { ufrag, pwd };
            let text = answer_fragment(&credentials, &sections);
            let f = IceFragment::parse(&text).unwrap();
            prop_assert_eq!(f.credentials, Some(credentials));
            let expected: Vec<Candidate> = sections
                .iter()
                .flat_map(|(mid, cs)| cs.iter().map(move |c| Candidate { mid: Some(mid.clone()), value: c.clone() }))
                .collect();
            prop_assert_eq!(f.candidates, expected);
            prop_assert_eq!(f.end_of_candidates, !sections.is_empty());
        }

        /// Any text: a clear answer, never a panic; accepted credentials follow the grammar.
        #[test]
        fn any_text_is_read_or_refused(text in "(a=ice-(ufrag|pwd):[ -~]{0,40}\r?\n|[ -~]{0,30}\n){0,8}") {
            if let Ok(IceFragment { credentials: Some(c), .. }) = IceFragment::parse(&text) {
                prop_assert!(ice_chars(&c.ufrag, 4..=256));
                prop_assert!(ice_chars(&c.pwd, 22..=256));
            }
        }
    }
}
