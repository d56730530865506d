//! DTMF carried in SIP INFO bodies, the fallback for VTCs that do not send RFC 4733 events.
//!
//! Two body formats exist in the field:
//! - `application/dtmf-relay` (Cisco's, copied by Polycom, Lifesize and most SBCs): `key=value`
//!   lines, `Signal=5` and `Duration=160`. Keys are case-insensitive, spaces may surround `=`,
//!   lines may end in CRLF or LF, and the signal may be the digit (`#`) or its RFC 4733 event
//!   code (`11`).
//! - `application/dtmf`: the body is just the digit or its event code.
//!
//! Only the body is parsed here; the SIP stack hands over the Content-Type and body of an INFO
//! it has already accepted. Duration is informational and ignored.

use crate::api::DtmfDigit;

use crate::telephone_event::digit_for_event;

/// Why an INFO body with a DTMF content type could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoDtmfError {
    /// The body is not UTF-8 text.
    #[error("DTMF INFO body is not UTF-8")]
    NotUtf8,
    /// An `application/dtmf-relay` body without a `Signal` line.
    #[error("application/dtmf-relay body has no Signal line")]
    MissingSignal,
    /// The signal is neither a DTMF character nor an event code (0-255).
    #[error("unrecognised DTMF signal {value:?}")]
    InvalidSignal {
        /// The value as received (trimmed).
        value: String,
    },
}

/// Reads the DTMF digit from a SIP INFO body.
///
/// Returns `Ok(None)` for content types that do not carry DTMF, and for valid event codes that
/// are not digits (16 = hook flash and the tone events).
///
/// # Errors
/// [`InfoDtmfError`] if the content type is a DTMF one but the body is malformed.
pub fn parse_info_dtmf(
    content_type: &str,
    body: &[u8],
) -> Result<Option<DtmfDigit>, InfoDtmfError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/dtmf-relay" => parse_relay(text(body)?),
        "application/dtmf" => parse_signal(text(body)?.trim()),
        _ => Ok(None),
    }
}

fn text(body: &[u8]) -> Result<&str, InfoDtmfError> {
    std::str::from_utf8(body).map_err(|_| InfoDtmfError::NotUtf8)
}

fn parse_relay(body: &str) -> Result<Option<DtmfDigit>, InfoDtmfError> {
    // `lines()` splits on LF and drops a trailing CR.
    for line in body.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("signal") {
            return parse_signal(value.trim());
        }
    }
    Err(InfoDtmfError::MissingSignal)
}

/// A digit character (`0`-`9`, `*`, `#`, `A`-`D` either case) or an event code.
fn parse_signal(value: &str) -> Result<Option<DtmfDigit>, InfoDtmfError> {
    let invalid = || InfoDtmfError::InvalidSignal {
        value: value.to_owned(),
    };
    if value.is_empty() {
        return Err(invalid());
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let code: u8 = value.parse().map_err(|_| invalid())?;
        return Ok(digit_for_event(code));
    }
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('*' | '#')), None) => Ok(Some(DtmfDigit(c))),
        (Some(c @ ('A'..='D' | 'a'..='d')), None) => Ok(Some(DtmfDigit(c.to_ascii_uppercase()))),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(c: char) -> Result<Option<DtmfDigit>, InfoDtmfError> {
        Ok(Some(DtmfDigit(c)))
    }

    #[test]
    fn cisco_dtmf_relay_body_gives_the_digit() {
        let body = b"Signal=5\r\nDuration=160\r\n";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), digit('5'));
    }

    #[test]
    fn cisco_pound_key_as_a_character() {
        let body = b"Signal=#\r\nDuration=250\r\n";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), digit('#'));
    }

    #[test]
    fn polycom_body_with_spaces_around_the_value() {
        let body = b"Signal= #\r\nDuration= 160\r\n";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), digit('#'));
        let body = b"Signal = 7 \r\nDuration = 100\r\n";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), digit('7'));
    }

    #[test]
    fn keys_are_case_insensitive_and_order_free() {
        let body = b"duration=160\nSIGNAL=*\n";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), digit('*'));
    }

    #[test]
    fn lf_only_lines_and_missing_final_newline_are_accepted() {
        let body = b"Signal=3\nDuration=160";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), digit('3'));
    }

    #[test]
    fn numeric_event_codes_map_to_star_pound_and_letters() {
        let relay = |s: &str| {
            parse_info_dtmf(
                "application/dtmf-relay",
                format!("Signal={s}\r\n").as_bytes(),
            )
        };
        assert_eq!(relay("10"), digit('*'));
        assert_eq!(relay("11"), digit('#'));
        assert_eq!(relay("12"), digit('A'));
        assert_eq!(relay("15"), digit('D'));
        assert_eq!(relay("d"), digit('D'));
    }

    #[test]
    fn hook_flash_is_not_a_digit() {
        let body = b"Signal=16\r\nDuration=500\r\n";
        assert_eq!(parse_info_dtmf("application/dtmf-relay", body), Ok(None));
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        let body = b"Signal=9\r\nDuration=160\r\n";
        assert_eq!(
            parse_info_dtmf(" Application/DTMF-Relay ; charset=utf-8", body),
            digit('9')
        );
    }

    #[test]
    fn application_dtmf_body_is_the_digit_or_code() {
        assert_eq!(parse_info_dtmf("application/dtmf", b"4"), digit('4'));
        assert_eq!(parse_info_dtmf("application/dtmf", b"#\r\n"), digit('#'));
        assert_eq!(parse_info_dtmf("application/dtmf", b"11"), digit('#'));
        assert_eq!(parse_info_dtmf("application/dtmf", b" 10 "), digit('*'));
    }

    #[test]
    fn other_content_types_are_not_dtmf() {
        let xml = b"<?xml version=\"1.0\"?><media_control/>";
        assert_eq!(
            parse_info_dtmf("application/media_control+xml", xml),
            Ok(None)
        );
        assert_eq!(parse_info_dtmf("", b"Signal=1"), Ok(None));
    }

    #[test]
    fn relay_body_without_signal_is_an_error() {
        assert_eq!(
            parse_info_dtmf("application/dtmf-relay", b"Duration=160\r\n"),
            Err(InfoDtmfError::MissingSignal)
        );
        assert_eq!(
            parse_info_dtmf("application/dtmf-relay", b""),
            Err(InfoDtmfError::MissingSignal)
        );
    }

    #[test]
    fn garbage_signals_are_errors() {
        for bad in ["", "E", "12#", "256", "99999999999999999999", "-1", "x"] {
            assert_eq!(
                parse_info_dtmf("application/dtmf-relay", format!("Signal={bad}").as_bytes()),
                Err(InfoDtmfError::InvalidSignal {
                    value: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_info_dtmf("application/dtmf", b""),
            Err(InfoDtmfError::InvalidSignal { .. })
        ));
    }

    #[test]
    fn non_utf8_body_is_an_error() {
        assert_eq!(
            parse_info_dtmf("application/dtmf-relay", b"Signal=\xff\r\n"),
            Err(InfoDtmfError::NotUtf8)
        );
    }
}
