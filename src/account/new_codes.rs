//! The end of the two flows that hand out a new set of recovery codes — confirming an
//! enrolment and regenerating the codes — shared from below, so that neither flow's file
//! depends on the other's.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::Error;
use crate::recovery::{RecoveryCodeSet, RecoveryCodes};

/// A flow that checked its input and changed the record, and now needs a new set of
/// recovery codes to finish: [`confirm_enrollment`](TwoFactorRecord::confirm_enrollment)
/// or [`regenerate_recovery_codes`](TwoFactorRecord::regenerate_recovery_codes).
#[derive(Debug)]
pub(crate) struct NeedsCodes<'a> {
    original: &'a TwoFactorRecord,
    next: TwoFactorRecord,
    events: Vec<Event>,
    purpose: Purpose,
}

#[derive(Debug)]
pub(super) enum Purpose {
    /// Enabling 2FA with the code of this step, accepted at `now`.
    Enable { step: u64, now: u64 },
    /// Replacing the codes of an enabled record.
    Regenerate,
}

impl<'a> NeedsCodes<'a> {
    pub(super) fn new(
        original: &'a TwoFactorRecord,
        next: TwoFactorRecord,
        events: Vec<Event>,
        purpose: Purpose,
    ) -> Self {
        NeedsCodes {
            original,
            next,
            events,
            purpose,
        }
    }

    /// Ends the flow with the new codes, or with the error of making them.
    pub(crate) fn finish(
        self,
        made: Result<(RecoveryCodes, RecoveryCodeSet), Error>,
    ) -> Transition<RecoveryCodes> {
        let NeedsCodes {
            original,
            mut next,
            mut events,
            purpose,
        } = self;
        let (codes, set) = match (made, &purpose) {
            (Ok(made), _) => made,
            // Enabling fails as a whole: the record stays pending and unchanged.
            (Err(error), Purpose::Enable { .. }) => {
                return Transition::unchanged(original, error);
            }
            // Keep what the proof changed (a code's step is used up).
            (Err(error), Purpose::Regenerate) => {
                return next.settle_failure(original, error, events);
            }
        };
        match purpose {
            Purpose::Enable { step, now } => {
                if let State::Pending {
                    secret, parameters, ..
                } = &next.state
                {
                    next.state = State::Enabled {
                        secret: secret.clone(),
                        parameters: *parameters,
                        enabled_at: now,
                        last_step: Some(step),
                        recovery: set,
                    };
                }
                events.push(Event::Enabled);
            }
            Purpose::Regenerate => {
                if let State::Enabled { recovery, .. } = &mut next.state {
                    *recovery = set;
                }
                events.push(Event::RecoveryCodesRegenerated);
            }
        }
        Transition::changed_to(next, Ok(codes), events)
    }
}

/// A fresh set of recovery codes of the configured size.
pub(super) fn new_recovery_codes<R: CryptoRng + ?Sized>(
    ctx: &Context<'_>,
    rng: &mut R,
) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
    RecoveryCodeSet::generate_with(
        ctx.hasher,
        ctx.user_id(),
        rng,
        ctx.settings.recovery_code_count(),
    )
}
