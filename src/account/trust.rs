//! "Trust this device for 30 days": issuing, checking and revoking device tokens.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::devices::{self, DeviceKey, DeviceToken};
use super::proof::SignedIn;
use super::{Context, Event, Transition, TrustedDevice, TwoFactorRecord};
use crate::Error;

impl TwoFactorRecord {
    /// Trusts the device the user just signed in on (within [`SignedIn::TRUST_WINDOW`] of
    /// `signed_in`, and after the last [`revoke_all_devices`](TwoFactorRecord::revoke_all_devices)),
    /// for [`Settings::device_lifetime`](super::Settings::device_lifetime). Returns the token
    /// for the cookie; the record keeps only its keyed hash. The oldest device is forgotten
    /// ([`Event::DeviceEvicted`]) when the list is full, and expired ones are pruned.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::DeviceLabelTooLong`];
    /// [`Error::ReauthenticationRequired`] when `signed_in` is another user's, older than
    /// [`SignedIn::TRUST_WINDOW`], not newer than the last revocation of all devices (or the
    /// last time 2FA was turned off), or a sign-in on a trusted device;
    /// [`Error::InvalidSetting`] (`"device_key"`) when the settings have no
    /// [`DeviceKey`].
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
        if !signed_in.allows_trust(ctx.user_id, now) || !self.is_after_revocation(signed_in) {
            return Transition::unchanged(self, Error::ReauthenticationRequired);
        }
        let issued = device_key(ctx).and_then(|key| {
            devices::issue(
                key,
                ctx.user_id,
                label,
                rng,
                now,
                ctx.settings.device_lifetime_secs(),
            )
        });
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
            events.push(Event::DeviceEvicted {
                device_id: evicted.id(),
            });
        }
        events.push(Event::DeviceTrusted {
            device_id: device.id(),
        });
        next.devices.push(device);
        Transition::changed_to(next, Ok(token), events)
    }

    /// Whether a device token from a cookie lets this user skip the code at `now`: the
    /// device, when it does. A read-only look-up, for a "this device" mark on a devices page:
    /// to sign in with the device use [`TwoFactorRecord::sign_in_with_device`], which also
    /// reports the failed attempts since the last sign-in.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDeviceToken`] for an unknown, expired, revoked or another user's token,
    /// and whenever 2FA is not enabled; [`Error::InvalidSetting`] (`"device_key"`) when the
    /// settings have no [`DeviceKey`].
    pub fn check_device(
        &self,
        ctx: &Context<'_>,
        token: &str,
        now: u64,
    ) -> Result<&TrustedDevice, Error> {
        let key = device_key(ctx)?;
        if !self.is_enabled() {
            return Err(Error::InvalidDeviceToken);
        }
        devices::find(key, &self.devices, ctx.user_id, token, now).ok_or(Error::InvalidDeviceToken)
    }

    /// Revokes one trusted device by its [`id`](super::TrustedDevice::id).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownDevice`] when no device has that id (it may have been revoked or
    /// evicted already).
    pub fn revoke_device(&self, device_id: &str) -> Transition<()> {
        let mut next = self.clone();
        let before = next.devices.len();
        next.devices.retain(|d| d.id() != device_id);
        if next.devices.len() == before {
            return Transition::unchanged(self, Error::UnknownDevice);
        }
        let events = alloc::vec![Event::DeviceRevoked {
            device_id: device_id.into()
        }];
        Transition::changed_to(next, Ok(()), events)
    }

    /// Revokes every trusted device, and refuses every [`SignedIn`] proof made until `now` in
    /// [`TwoFactorRecord::trust_device`]. Call it when the password changes or the user asks to
    /// sign out everywhere.
    pub fn revoke_all_devices(&self, now: u64) -> Transition<()> {
        let mut next = self.clone();
        let had_devices = !next.devices.is_empty();
        next.devices.clear();
        next.devices_revoked_at = self.revoked_as_of(now);
        let events = if had_devices {
            alloc::vec![Event::AllDevicesRevoked]
        } else {
            Vec::new()
        };
        if next == *self {
            return Transition::unchanged_ok(self, ());
        }
        Transition::changed_to(next, Ok(()), events)
    }
}

/// The settings' device key, or the error that says it is missing.
fn device_key<'a>(ctx: &Context<'a>) -> Result<&'a DeviceKey, Error> {
    ctx.settings.device_key_ref().ok_or(Error::InvalidSetting {
        setting: "device_key",
    })
}
