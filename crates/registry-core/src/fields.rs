//! The text body of juki's signed events: a header line naming the event type and version,
//! then one `key value` line per field, in a fixed order.
//!
//! ```text
//! juki.change/v1
//! municipality 204072
//! name 山田 太郎
//! ```
//!
//! A key is lower-case ASCII letters, digits and `-`. A value is UTF-8 text, never normalised
//! (a name keeps the code points it was registered with), after one
//! space; it may be empty. Because a signed note may hold no control character but the line
//! feed, and a line feed ends the field, a value escapes exactly three things: `\` as `\\`, a
//! line feed as `\n` and a tab as `\t`. No other escape exists, any other control character is
//! refused, and a value must be written in its one escaped form — so every field list has
//! exactly one encoding, and the bytes that were signed are the only bytes that parse to it.

use std::borrow::Cow;

/// How many fields a body may have.
pub const MAX_FIELDS: usize = 64;
/// The longest value accepted, in bytes after escaping.
pub const MAX_VALUE: usize = 4096;

/// What is wrong with an event body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    /// The body does not start with the expected header line.
    #[error("the body must start with the line {expected:?}")]
    WrongHeader {
        /// The header this event type has.
        expected: &'static str,
    },
    /// The body does not end with a line feed.
    #[error("the body must end with a line feed")]
    Unterminated,
    /// A line is not `key value`.
    #[error("line {line}: expected `key value`")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
    /// A key has characters other than lower-case ASCII letters, digits and `-`.
    #[error("line {line}: a key is lower-case letters, digits and '-'")]
    BadKey {
        /// 1-based line number.
        line: usize,
    },
    /// A value has a control character or a bad escape.
    #[error("line {line} ({key}): {reason}")]
    BadValue {
        /// 1-based line number.
        line: usize,
        /// The field.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Too many fields or too long a value.
    #[error("the body is too large: at most {MAX_FIELDS} fields of {MAX_VALUE} bytes")]
    TooLarge,
    /// A required field is missing.
    #[error("the field {0:?} is missing")]
    Missing(&'static str),
    /// Fields are not in the order the format gives, or one is repeated or unknown.
    #[error("unexpected field {key:?} on line {line}: fields must appear once each, in order")]
    Unexpected {
        /// The key found.
        key: String,
        /// 1-based line number.
        line: usize,
    },
}

/// Escapes a value for a body line.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes [`escape`]; `None` for a bad escape or a control character.
fn unescape(value: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                _ => return Err("a backslash must be followed by \\, n or t"),
            },
            c if c.is_control() => return Err("control characters must be escaped or removed"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A parsed body: its fields in order, with values unescaped (borrowed from the text when
/// they hold no escape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields<'t> {
    fields: Vec<(&'t str, Cow<'t, str>)>,
}

/// Builds a body. Keys must be valid; values are escaped here.
#[derive(Clone, Debug)]
pub struct Writer {
    text: String,
}

impl Writer {
    /// A body of the given type.
    pub fn new(header: &str) -> Writer {
        let mut text = String::with_capacity(512);
        text.push_str(header);
        text.push('\n');
        Writer { text }
    }

    /// Adds a field.
    pub fn field(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Writer {
        debug_assert!(valid_key(key), "bad key {key:?}");
        self.text.push_str(key);
        self.text.push(' ');
        self.text.push_str(&escape(&value.to_string()));
        self.text.push('\n');
        self
    }

    /// Adds a field when the value is present.
    pub fn optional(&mut self, key: &str, value: Option<impl std::fmt::Display>) -> &mut Writer {
        if let Some(value) = value {
            self.field(key, value);
        }
        self
    }

    /// Adds the identity fields every document about a person carries, in this order: `name`,
    /// `reading`, `former-name` and `former-reading` where recorded, `birth`, `sex`.
    pub fn identity(
        &mut self,
        name: &registry_domain::Name,
        birth: registry_domain::Date,
        sex: registry_domain::Sex,
    ) -> &mut Writer {
        use registry_domain::FormerSurname;
        self.field("name", name.name())
            .field("reading", name.reading())
            .optional("former-name", name.former().map(FormerSurname::surname))
            .optional("former-reading", name.former().map(FormerSurname::reading))
            .field("birth", birth)
            .field("sex", sex)
    }

    /// The finished body.
    pub fn finish(&self) -> String {
        self.text.clone()
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl<'t> Fields<'t> {
    /// Parses a body whose first line must be `header`.
    pub fn parse(text: &'t str, header: &'static str) -> Result<Fields<'t>, FieldsError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(FieldsError::Unterminated);
        };
        let mut lines = body.split('\n');
        if lines.next() != Some(header) {
            return Err(FieldsError::WrongHeader { expected: header });
        }
        let mut fields = Vec::new();
        for (offset, line) in lines.enumerate() {
            let number = offset + 2;
            if fields.len() == MAX_FIELDS {
                return Err(FieldsError::TooLarge);
            }
            let (key, value) =
                line.split_once(' ').ok_or(FieldsError::Malformed { line: number })?;
            if !valid_key(key) {
                return Err(FieldsError::BadKey { line: number });
            }
            if value.len() > MAX_VALUE {
                return Err(FieldsError::TooLarge);
            }
            let bad = |reason| FieldsError::BadValue { line: number, key: key.to_owned(), reason };
            // Without a backslash a value has nothing to unescape, and it is in its one escaped
            // form exactly when it has no control character (the line holds no line feed).
            let value = if value.contains('\\') {
                let unescaped = unescape(value).map_err(bad)?;
                if escape(&unescaped) != value {
                    return Err(bad("not in its one escaped form"));
                }
                Cow::Owned(unescaped)
            } else if value.chars().any(char::is_control) {
                return Err(bad("control characters must be escaped or removed"));
            } else {
                Cow::Borrowed(value)
            };
            fields.push((key, value));
        }
        Ok(Fields { fields })
    }

    /// A reader that takes the fields in order.
    pub fn reader(&self) -> Reader<'_> {
        Reader { fields: &self.fields, at: 0 }
    }
}

/// Takes fields in the order a format defines, so that order, repetition and unknown fields
/// are all errors.
pub struct Reader<'a> {
    fields: &'a [(&'a str, Cow<'a, str>)],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next field, which must be `key`.
    pub fn take(&mut self, key: &'static str) -> Result<&'a str, FieldsError> {
        self.optional(key)?.ok_or(FieldsError::Missing(key))
    }

    /// The next field if it is `key`.
    pub fn optional(&mut self, key: &'static str) -> Result<Option<&'a str>, FieldsError> {
        match self.fields.get(self.at) {
            Some((k, v)) if *k == key => {
                self.at += 1;
                Ok(Some(v))
            }
            _ => Ok(None),
        }
    }

    /// Every further field that is `key` (a repeated field).
    pub fn repeated(&mut self, key: &'static str) -> Vec<&'a str> {
        let mut out = Vec::new();
        while let Some((k, v)) = self.fields.get(self.at) {
            if *k != key {
                break;
            }
            out.push(v.as_ref());
            self.at += 1;
        }
        out
    }

    /// Fails if any field is left over.
    pub fn finish(self) -> Result<(), FieldsError> {
        match self.fields.get(self.at) {
            None => Ok(()),
            Some((key, _)) => {
                Err(FieldsError::Unexpected { key: (*key).to_owned(), line: self.at + 2 })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_with_escapes() {
        let text = Writer::new("juki.test/v1")
            .field("name", "山田 太郎")
            .field("note", "a\\b\nc\td")
            .field("empty", "")
            .finish();
        assert_eq!(text, "juki.test/v1\nname 山田 太郎\nnote a\\\\b\\nc\\td\nempty \n");
        let fields = Fields::parse(&text, "juki.test/v1").unwrap();
        let mut reader = fields.reader();
        assert_eq!(reader.take("name").unwrap(), "山田 太郎");
        assert_eq!(reader.take("note").unwrap(), "a\\b\nc\td");
        assert_eq!(reader.optional("missing").unwrap(), None);
        assert_eq!(reader.take("empty").unwrap(), "");
        reader.finish().unwrap();
    }

    #[test]
    fn a_value_without_escapes_is_taken_as_it_is_and_one_with_is_unescaped() {
        let text = "juki.test/v1\nplain 山田 太郎\nescaped a\\\\b\\nc\nempty \n";
        let fields = Fields::parse(text, "juki.test/v1").unwrap();
        let mut reader = fields.reader();
        assert_eq!(reader.take("plain").unwrap(), "山田 太郎");
        assert_eq!(reader.take("escaped").unwrap(), "a\\b\nc");
        assert_eq!(reader.take("empty").unwrap(), "");
        reader.finish().unwrap();
        // A control character is refused with or without a backslash in the value.
        for value in ["a\u{1b}b", "a\\\\\u{1b}", "\u{7f}"] {
            let text = format!("juki.test/v1\nname {value}\n");
            assert!(
                matches!(Fields::parse(&text, "juki.test/v1"), Err(FieldsError::BadValue { .. })),
                "{value:?}"
            );
        }
    }

    #[test]
    fn every_malformation_is_named() {
        let parse = |t: &'static str| Fields::parse(t, "juki.test/v1");
        assert_eq!(parse("juki.test/v1\nname x"), Err(FieldsError::Unterminated));
        assert_eq!(
            parse("juki.other/v1\n"),
            Err(FieldsError::WrongHeader { expected: "juki.test/v1" })
        );
        assert_eq!(parse("juki.test/v1\nname\n"), Err(FieldsError::Malformed { line: 2 }));
        assert_eq!(parse("juki.test/v1\nNa-me x\n"), Err(FieldsError::BadKey { line: 2 }));
        assert!(matches!(parse("juki.test/v1\nname a\\x\n"), Err(FieldsError::BadValue { .. })));
        assert!(matches!(parse("juki.test/v1\nname a\u{7}\n"), Err(FieldsError::BadValue { .. })));
        let mut reader = Fields::parse("juki.test/v1\nb 1\na 2\n", "juki.test/v1").unwrap();
        let mut r = reader.reader();
        assert_eq!(r.take("a"), Err(FieldsError::Missing("a")));
        r.take("b").unwrap();
        reader = Fields::parse("juki.test/v1\na 1\na 2\n", "juki.test/v1").unwrap();
        let mut r = reader.reader();
        r.take("a").unwrap();
        assert_eq!(r.finish(), Err(FieldsError::Unexpected { key: "a".into(), line: 3 }));
    }
}
