//! The entry queue: a caller who dialled only a tenant key enters the conference ID as DTMF,
//! ended by `#`; a wrong or missing ID gets a retry prompt, and after the last attempt a goodbye
//! and a BYE.
//!
//! Owns the digits and attempts of calls in the entry queue; it must not decide lobby entry (the
//! found meeting goes through `admission` like a direct dial).

use std::time::{Duration, Instant};

use signaling::ConferenceId;

use super::{CallCore, CallId, CoreOutput, DtmfDigit, Phase, Prompt};

/// How long after the last failed entry-queue attempt the call is hung up (so "Goodbye" plays).
const GOODBYE_DELAY: Duration = Duration::from_secs(2);

impl CallCore {
    /// A digit while the call is in the entry queue: collects the conference ID, `#` looks it
    /// up, `*` starts over.
    pub(super) fn entry_queue_digit(&mut self, now: Instant, call_id: CallId, digit: DtmfDigit) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Phase::EntryQueue { digits, .. } = &mut call.phase else {
            return;
        };
        match digit.0 {
            '#' => {
                let entered = std::mem::take(digits);
                let tenant = call.tenant.clone();
                let found = ConferenceId::new(&entered)
                    .ok()
                    .filter(|c| matches!(self.directory.meeting(&tenant, c), Ok(Some(_))));
                match found {
                    Some(conference) => {
                        tracing::info!(call = %call_id, %tenant, %conference, "entry queue: conference found");
                        self.enter_meeting(now, call_id, (tenant, conference));
                    }
                    None => self.entry_queue_failure(now, call_id),
                }
            }
            '*' => digits.clear(),
            d if d.is_ascii_digit() && digits.len() < ConferenceId::MAX_DIGITS + 2 => {
                digits.push(d)
            }
            _ => {}
        }
    }

    /// A wrong or missing conference ID: retry, or hang up after the last attempt.
    pub(super) fn entry_queue_failure(&mut self, now: Instant, call_id: CallId) {
        let attempts = self.config.entry_queue_attempts;
        let timeout = self.config.entry_queue_timeout;
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Phase::EntryQueue {
            digits,
            failures,
            deadline,
        } = &mut call.phase
        else {
            return;
        };
        *failures += 1;
        digits.clear();
        if *failures >= attempts {
            call.phase = Phase::HangingUp {
                at: now + GOODBYE_DELAY,
                reason: (
                    404,
                    format!("No valid conference ID after {attempts} attempts"),
                ),
            };
            self.out.push_back(CoreOutput::PlayPrompt {
                call: call_id,
                prompt: Prompt::Goodbye,
            });
        } else {
            *deadline = now + timeout;
            self.out.push_back(CoreOutput::PlayPrompt {
                call: call_id,
                prompt: Prompt::InvalidConferenceId,
            });
            self.show_slate(call_id);
        }
    }
}
