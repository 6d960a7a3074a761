//! "Trust this device for 30 days": issuing, checking and revoking device tokens.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::devices::{self, DeviceToken};
use super::sign_in::SignedIn;
use super::{Context, Event, Transition, TwoFactorRecord};
use crate::Error;

impl TwoFactorRecord {
    /// Trusts the device the user just signed in on (within [`SignedIn::TRUST_WINDOW`] of
    /// `signed_in`), for
    /// [`Settings::device_lifetime`](super::Settings::device_lifetime). Returns the token for
    /// the cookie; the record keeps only its hash. The oldest device is forgotten when the
    /// list is full, and expired ones are pruned.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::DeviceLabelTooLong`];
    /// [`Error::ReauthenticationRequired`] when `signed_in` is another user's or older than
    /// [`SignedIn::TRUST_WINDOW`].
    pub fn trust_device<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        signed_in: &SignedIn,
        label: Option<&str>,
        rng: &mut R,
        now: u64,
    ) -> Transition<DeviceToken> {
        if !self.is_enabled() {
            return Transition::unchanged(self, Error::NotEnabled);
        }
        if !signed_in.allows_trust(ctx.user_id, now) {
            return Transition::unchanged(self, Error::ReauthenticationRequired);
        }
        let issued = devices::issue(
            ctx.user_id,
            label,
            rng,
            now,
            ctx.settings.device_lifetime_secs(),
        );
        let (device, token) = match issued {
            Ok(issued) => issued,
            Err(error) => return Transition::unchanged(self, error),
        };
        let mut next = self.clone();
        let mut events = Vec::new();
        next.devices.retain(|d| !d.is_expired(now));
        while next.devices.len() >= ctx.settings.max_device_count() {
            let oldest = next
                .devices
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| d.created_at)
                .map(|(i, _)| i);
            let Some(index) = oldest else { break };
            let evicted = next.devices.remove(index);
            events.push(Event::DeviceRevoked {
                device_id: evicted.id(),
            });
        }
        events.push(Event::DeviceTrusted {
            device_id: device.id(),
        });
        next.devices.push(device);
        Transition {
            outcome: Ok(token),
            record: next,
            events,
            changed: true,
        }
    }

    /// Whether a device token from a cookie lets this user skip the code at `now`. A read-only
    /// check: nothing to store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDeviceToken`] for an unknown, expired, revoked or another user's token,
    /// and whenever 2FA is not enabled.
    pub fn check_device(
        &self,
        ctx: &Context<'_>,
        token: &str,
        now: u64,
    ) -> Result<&super::TrustedDevice, Error> {
        if !self.is_enabled() {
            return Err(Error::InvalidDeviceToken);
        }
        devices::find(&self.devices, ctx.user_id, token, now).ok_or(Error::InvalidDeviceToken)
    }

    /// Revokes one trusted device by its [`id`](super::TrustedDevice::id).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDeviceToken`] when no device has that id.
    pub fn revoke_device(&self, device_id: &str) -> Transition<()> {
        let mut next = self.clone();
        let before = next.devices.len();
        next.devices.retain(|d| d.id() != device_id);
        if next.devices.len() == before {
            return Transition::unchanged(self, Error::InvalidDeviceToken);
        }
        Transition {
            outcome: Ok(()),
            record: next,
            events: alloc::vec![Event::DeviceRevoked {
                device_id: device_id.into()
            }],
            changed: true,
        }
    }

    /// Revokes every trusted device. Call it when the password changes or the user asks to
    /// sign out everywhere.
    pub fn revoke_all_devices(&self) -> Transition<()> {
        let mut next = self.clone();
        let changed = !next.devices.is_empty();
        next.devices.clear();
        Transition {
            outcome: Ok(()),
            record: next,
            events: if changed {
                alloc::vec![Event::AllDevicesRevoked]
            } else {
                Vec::new()
            },
            changed,
        }
    }
}
