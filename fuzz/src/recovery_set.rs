//! A reference reader and writer of a recovery code set's two stored forms, the text form
//! (`RecoveryCodeSet::encode`, inside records of versions 1 and 2) and the binary form
//! (`src/recovery/binary.rs`, inside records of versions 3 and 4), written from their
//! documentation and sharing no code with the crate. Both forms are held to the same rules.

/// A recovery code set's fields, from either form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRecoverySet {
    /// 1 (unbound to the user) or 2.
    pub version: u8,
    pub algorithm: String,
    pub parameters: String,
    pub salt: Vec<u8>,
    pub hashes: Vec<Vec<u8>>,
}

impl ReferenceRecoverySet {
    /// The binary form a record of version 3 or 4 holds.
    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = vec![self.version, self.algorithm.len() as u8];
        out.extend_from_slice(self.algorithm.as_bytes());
        out.extend_from_slice(&(self.parameters.len() as u16).to_be_bytes());
        out.extend_from_slice(self.parameters.as_bytes());
        out.push(self.salt.len() as u8);
        out.extend_from_slice(&self.salt);
        out.push(self.hashes.first().map_or(0, Vec::len) as u8);
        out.push(self.hashes.len() as u8);
        for hash in &self.hashes {
            out.extend_from_slice(hash);
        }
        out
    }

    /// The text form a version 1 or 2 record holds.
    pub fn to_text(&self) -> String {
        let hashes: Vec<String> = self.hashes.iter().map(|h| base64_encode(h)).collect();
        format!(
            "$twofa-recovery$v={}${}${}${}${}",
            self.version,
            self.algorithm,
            self.parameters,
            base64_encode(&self.salt),
            hashes.join(",")
        )
    }
}

/// Reads the binary form: version:u8 (1|2), algorithm_len:u8 algorithm, parameters_len:u16
/// parameters, salt_len:u8 salt, hash_len:u8 count:u8 hashes (hash_len 0 exactly when count
/// is 0), and nothing after.
pub fn from_binary(field: &[u8]) -> Option<ReferenceRecoverySet> {
    let mut rest = field;
    let version = take(&mut rest, 1)?[0];
    let algorithm = take_sized(&mut rest, 1)?;
    let parameters = take_sized(&mut rest, 2)?;
    let salt = take_sized(&mut rest, 1)?;
    let &[hash_len, count] = take(&mut rest, 2)? else {
        unreachable!("two bytes")
    };
    let (hash_len, count) = (usize::from(hash_len), usize::from(count));
    if (hash_len == 0) != (count == 0) {
        return None;
    }
    let hashes = take(&mut rest, hash_len * count)?;
    if !rest.is_empty() {
        return None;
    }
    let hashes = if count == 0 {
        Vec::new()
    } else {
        hashes.chunks(hash_len).map(<[u8]>::to_vec).collect()
    };
    checked_set(
        version,
        core::str::from_utf8(algorithm).ok()?,
        core::str::from_utf8(parameters).ok()?,
        salt.to_vec(),
        hashes,
    )
}

/// Reads the text form: `$twofa-recovery$v=N$algorithm$parameters$salt$hash,hash,...`, N in
/// canonical decimal, salt and hashes in canonical standard base64 without padding, at most
/// 4096 bytes.
pub fn from_text(text: &str) -> Option<ReferenceRecoverySet> {
    if text.len() > 4096 {
        return None;
    }
    let fields: Vec<&str> = text.split('$').collect();
    let [
        "",
        "twofa-recovery",
        version,
        algorithm,
        parameters,
        salt,
        hashes,
    ] = fields[..]
    else {
        return None;
    };
    let version = match version {
        "v=1" => 1,
        "v=2" => 2,
        _ => return None,
    };
    let hashes = if hashes.is_empty() {
        Vec::new()
    } else {
        hashes
            .split(',')
            .map(base64_decode_canonical)
            .collect::<Option<_>>()?
    };
    checked_set(
        version,
        algorithm,
        parameters,
        base64_decode_canonical(salt)?,
        hashes,
    )
}

/// The rules both forms share (`CodeHasher`'s contract and `RecoveryCodeSet::decode`'s
/// errors): a name of 1 to 32 of `a-z 0-9 -`; parameters empty or `name=value` pairs joined
/// by commas, values of 1 to 64 of `A-Z a-z 0-9 / + . -`, 256 bytes at most; a salt of 16 to
/// 64 bytes; at most 32 hashes, of one length from 16 to 64 bytes, none repeated.
fn checked_set(
    version: u8,
    algorithm: &str,
    parameters: &str,
    salt: Vec<u8>,
    hashes: Vec<Vec<u8>>,
) -> Option<ReferenceRecoverySet> {
    fn is_name(name: &str) -> bool {
        (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
    }
    fn is_value(value: &str) -> bool {
        (1..=64).contains(&value.len())
            && value.bytes().all(|b| {
                matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'+' | b'.' | b'-')
            })
    }
    let parameters_ok = parameters.is_empty()
        || (parameters.len() <= 256
            && parameters.split(',').all(|pair| {
                let mut parts = pair.splitn(2, '=');
                let name = parts.next().unwrap_or("");
                parts
                    .next()
                    .is_some_and(|value| is_name(name) && is_value(value))
            }));
    let hashes_ok = hashes.len() <= 32
        && hashes
            .iter()
            .all(|h| (16..=64).contains(&h.len()) && h.len() == hashes[0].len())
        && hashes
            .iter()
            .enumerate()
            .all(|(i, h)| !hashes[i + 1..].contains(h));
    let valid = matches!(version, 1 | 2)
        && is_name(algorithm)
        && parameters_ok
        && (16..=64).contains(&salt.len())
        && hashes_ok;
    valid.then(|| ReferenceRecoverySet {
        version,
        algorithm: algorithm.to_owned(),
        parameters: parameters.to_owned(),
        salt,
        hashes,
    })
}

/// The next `n` bytes of `rest`, or `None` when fewer are left.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// A field after its length in `width` big-endian bytes.
fn take_sized<'a>(rest: &mut &'a [u8], width: usize) -> Option<&'a [u8]> {
    let len = take(rest, width)?
        .iter()
        .fold(0, |len, &b| len << 8 | usize::from(b));
    take(rest, len)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without padding.
fn base64_encode(bytes: &[u8]) -> String {
    crate::base64_encode_with(BASE64, bytes)
}

/// Standard base64 without padding, only in its one canonical spelling (no stray bits, no
/// leftover single symbol): decoded leniently, then compared with its encoding.
fn base64_decode_canonical(text: &str) -> Option<Vec<u8>> {
    let out = crate::base64_decode_lenient_with(BASE64, text)?;
    (base64_encode(&out) == text).then_some(out)
}
