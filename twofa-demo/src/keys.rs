//! The demo's keys, in one file kept outside the database and its backups: the key that seals
//! the 2FA secrets, the key of the trusted-device tokens, the key that signs form tokens, and
//! the recovery-code pepper. With them, a copy of the database gives up nothing; without them,
//! the database alone cannot be used to sign in.

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use twofa::account::DeviceKey;
use zeroize::Zeroizing;

/// The four keys.
pub struct Keys {
    /// AES-256-GCM key that seals the TOTP secrets at rest.
    pub sealing: Zeroizing<Vec<u8>>,
    /// Key of the trusted-device tokens.
    pub device: DeviceKey,
    /// Key that signs the forms' CSRF tokens.
    pub form: Zeroizing<[u8; 32]>,
    /// The recovery codes' pepper; `None` for a key file made before there was one, whose
    /// recovery codes were hashed without it.
    pub pepper: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Keys {
    /// Four new random keys.
    ///
    /// # Errors
    ///
    /// When the system has no randomness.
    pub fn generate() -> Result<Keys, crate::Error> {
        let mut form = Zeroizing::new([0u8; 32]);
        getrandom::fill(form.as_mut())?;
        let mut pepper = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut pepper)?;
        Ok(Keys {
            sealing: Zeroizing::new(twofa::AesGcmSealer::generate_key()?.to_vec()),
            device: DeviceKey::generate(),
            form,
            pepper: Some(pepper),
        })
    }

    /// The keys in `path` (lines of hex: sealing, device, form, pepper), or new ones written
    /// there (mode 0600, in a directory made 0700 if missing). A file that others can read is
    /// refused. A file of two lines (from an older demo) still works: the form key is derived
    /// from the sealing key, and there is no pepper.
    ///
    /// # Errors
    ///
    /// An unreadable, malformed or too open file; a file that cannot be made.
    pub fn load_or_create(path: &Path) -> Result<(Keys, bool), crate::Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                refuse_if_shared(path)?;
                Ok((Self::parse(path, &Zeroizing::new(text))?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = Self::generate()?;
                keys.write(path)?;
                Ok((keys, true))
            }
            Err(e) => Err(format!("{}: {e}", path.display()).into()),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<Keys, crate::Error> {
        let lines = text
            .lines()
            .map(|line| {
                data_encoding::HEXLOWER
                    .decode(line.trim().as_bytes())
                    .map(Zeroizing::new)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("{}: expected lines of lower-case hex", path.display()))?;
        let form_key = |bytes: &[u8]| -> Result<Zeroizing<[u8; 32]>, String> {
            let array: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("{}: the form key is not 32 bytes", path.display()))?;
            Ok(Zeroizing::new(array))
        };
        match &lines[..] {
            [sealing, device] => Ok(Keys {
                form: derive_form_key(sealing),
                sealing: sealing.clone(),
                device: DeviceKey::from_bytes(device)?,
                pepper: None,
            }),
            [sealing, device, form, pepper] => Ok(Keys {
                sealing: sealing.clone(),
                device: DeviceKey::from_bytes(device)?,
                form: form_key(form)?,
                pepper: Some(pepper.clone()),
            }),
            _ => Err(format!("{}: expected four lines of hex", path.display()).into()),
        }
    }

    fn write(&self, path: &Path) -> Result<(), crate::Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
        let hex = |bytes: &[u8]| data_encoding::HEXLOWER.encode(bytes);
        let pepper = self.pepper.as_deref().map_or(String::new(), |p| hex(p));
        let text = Zeroizing::new(format!(
            "{}\n{}\n{}\n{}\n",
            hex(&self.sealing),
            hex(self.device.as_bytes()),
            hex(&*self.form),
            pepper
        ));
        std::io::Write::write_all(&mut create_private(path)?, text.as_bytes())?;
        Ok(())
    }
}

/// Creates `path` for writing, readable by its owner only (mode 0600); fails if it exists.
///
/// # Errors
///
/// When the file exists or cannot be made.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Refuses a key file that its group or others may read or write.
fn refuse_if_shared(path: &Path) -> Result<(), crate::Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is readable by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            )
            .into());
        }
    }
    Ok(())
}

/// For key files of two lines: a form key derived from the sealing key (HMAC-SHA-256 with a
/// label, so it says nothing about the sealing key).
fn derive_form_key(sealing: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(sealing)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"twofa-demo form key");
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Where the keys live unless `--key-file` says otherwise: the user's configuration
/// directory, away from the database and its backups.
pub fn default_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("twofa-demo").join("keys"))
}
