//! The cursor of a key rotation, tied to what it rotates.

use std::fmt;

use crate::Error;

/// Where a [`reseal_all`](crate::reseal_all) run stands, tied to the records it walks (the
/// database and the table, from [`ListUsers::location`](crate::ListUsers::location)) and to
/// the key id it rotates to.
///
/// A bare cursor — the last user id done — means nothing outside its run: resumed against
/// another database, or towards another key, it would skip every user at or before it, and
/// the run would report success with users left on the old key. [`ResealCursor::resume`]
/// refuses such a cursor instead ([`Error::ForeignCursor`]).
///
/// ```
/// use twofa_sqlx::ResealCursor;
///
/// let mut cursor = ResealCursor::new("sqlite:/srv/app.db#two_factor", "2027-01");
/// cursor.advance("user-0042");
/// let text = cursor.to_text(); // keep it in a file between runs
///
/// let read = ResealCursor::from_text(&text)?;
/// assert_eq!(read.resume("sqlite:/srv/app.db#two_factor", "2027-01")?, Some("user-0042"));
/// assert!(read.resume("sqlite:/srv/other.db#two_factor", "2027-01").is_err());
/// assert!(read.resume("sqlite:/srv/app.db#two_factor", "2027-05").is_err());
/// # Ok::<(), twofa_sqlx::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealCursor {
    location: String,
    key_id: String,
    after: Option<String>,
}

/// The first line of a cursor's text.
const MAGIC: &str = "twofa-sqlx reseal cursor 1";

impl ResealCursor {
    /// A cursor at the start of a run over the records at `location`, towards `key_id`.
    pub fn new(location: &str, key_id: &str) -> ResealCursor {
        ResealCursor {
            location: location.to_owned(),
            key_id: key_id.to_owned(),
            after: None,
        }
    }

    /// Moves the cursor past `user_id` (a [`ResealProgress::cursor`](crate::ResealProgress)).
    pub fn advance(&mut self, user_id: &str) {
        self.after = Some(user_id.to_owned());
    }

    /// Where the run resumes (the last user id done, `None` at the start), if this cursor is
    /// for the records at `location` and the key `key_id`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignCursor`] when the cursor belongs to another database, table or key.
    pub fn resume(&self, location: &str, key_id: &str) -> Result<Option<&str>, Error> {
        if self.location == location && self.key_id == key_id {
            Ok(self.after.as_deref())
        } else {
            Err(Error::ForeignCursor {
                cursor_location: self.location.clone(),
                cursor_key_id: self.key_id.clone(),
                location: location.to_owned(),
                key_id: key_id.to_owned(),
            })
        }
    }

    /// The cursor as text, for a file: a first line naming the format, a readable comment,
    /// then the fields hex-encoded (a user id may hold anything a row holds).
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{MAGIC}\n# {} towards key {}\nlocation {}\nkey {}\n",
            self.location.escape_debug(),
            self.key_id.escape_debug(),
            hex(&self.location),
            hex(&self.key_id)
        );
        if let Some(after) = &self.after {
            text.push_str(&format!("after {}\n", hex(after)));
        }
        text
    }

    /// Reads [`ResealCursor::to_text`]'s text.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedCursor`] for any other text.
    pub fn from_text(text: &str) -> Result<ResealCursor, Error> {
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        if lines.next() != Some(MAGIC) {
            return Err(Error::MalformedCursor);
        }
        let field = |line: Option<&str>, name: &str| {
            line.and_then(|l| unhex(l.strip_prefix(name)?.strip_prefix(' ')?))
                .ok_or(Error::MalformedCursor)
        };
        let location = field(lines.next(), "location")?;
        let key_id = field(lines.next(), "key")?;
        let after = match lines.next() {
            None => None,
            line => Some(field(line, "after")?),
        };
        if lines.next().is_some() {
            return Err(Error::MalformedCursor);
        }
        Ok(ResealCursor {
            location,
            key_id,
            after,
        })
    }
}

impl fmt::Display for ResealCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} towards key {}", self.location, self.key_id)?;
        match &self.after {
            Some(after) => write!(f, ", after user {after:?}"),
            None => f.write_str(", at the start"),
        }
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_text_whatever_the_ids_hold() {
        for after in [None, Some(""), Some("user-1"), Some("a\nb\0c \u{e9}#")] {
            let mut cursor = ResealCursor::new("postgres://db:5432/app#two_factor", "k\n2");
            if let Some(after) = after {
                cursor.advance(after);
            }
            assert_eq!(ResealCursor::from_text(&cursor.to_text()).unwrap(), cursor);
        }
    }

    #[test]
    fn a_cursor_shows_what_it_is_for() {
        let mut cursor = ResealCursor::new("sqlite:/a.db#t", "k2");
        assert_eq!(
            cursor.to_string(),
            "sqlite:/a.db#t towards key k2, at the start"
        );
        cursor.advance("u1");
        assert_eq!(
            cursor.to_string(),
            "sqlite:/a.db#t towards key k2, after user \"u1\""
        );
    }

    #[test]
    fn other_text_is_malformed() {
        let good = ResealCursor::new("l", "k").to_text();
        for bad in [
            "",
            "user-0042",
            &good.replace("cursor 1", "cursor 2"),
            &good.replace("location 6c", "location 6"),
            &good.replace("location", "place"),
            &format!("{good}after 41\nafter 42\n"),
            &format!("{good}after zz\n"),
        ] {
            assert!(
                matches!(ResealCursor::from_text(bad), Err(Error::MalformedCursor)),
                "{bad:?}"
            );
        }
    }
}
