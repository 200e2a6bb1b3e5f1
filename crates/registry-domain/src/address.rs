//! 住所 (address): a municipality code plus the rest of the address as written.
//!
//! The rest (町名, 番地, 方書 …) is free text cleaned like a name (`text.rs`): as registered,
//! trimmed, 1..=200 characters, no control or invisible characters. It is stored as written; matching
//! uses [`Address::match_key`], which folds notation variants (see [`crate::fold::fold_address`]).
//! Errors never repeat the address.

use crate::fold::fold_address;
use crate::municipality::MunicipalityCode;
use crate::text::{self, TextError};

/// An address: the municipality (or designated-city ward) and the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    municipality: MunicipalityCode,
    rest: String,
}

/// Why the rest of an address was refused. Never contains the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing but white space.
    #[error(
        "the address after the municipality is empty; give the town, block and number, e.g. 大字智里3-1"
    )]
    Empty,
    /// Longer than the cap.
    #[error("the address after the municipality is {chars} characters long; at most {max} are allowed", max = Address::MAX_CHARS)]
    TooLong {
        /// Its length in characters (after trimming).
        chars: usize,
    },
    /// A control or invisible formatting character.
    #[error(
        "character {position} of the address is a control or invisible character \
         (U+{code_point:04X}); an address is printable text on one line"
    )]
    Forbidden {
        /// Its position, counting characters from 1 after trimming.
        position: usize,
        /// Its code point.
        code_point: u32,
    },
}

impl Address {
    /// The most characters the part after the municipality may have.
    pub const MAX_CHARS: usize = 200;

    /// An address in `municipality`; `rest` is trimmed and validated, and kept as given.
    pub fn new(municipality: MunicipalityCode, rest: &str) -> Result<Self, AddressError> {
        let rest = text::clean(rest, Self::MAX_CHARS).map_err(|e| match e {
            TextError::Empty => AddressError::Empty,
            TextError::TooLong { chars } => AddressError::TooLong { chars },
            TextError::Forbidden { position, code_point } => {
                AddressError::Forbidden { position, code_point }
            }
        })?;
        Ok(Self { municipality, rest })
    }

    /// The municipality or designated-city ward.
    pub fn municipality(&self) -> MunicipalityCode {
        self.municipality
    }

    /// The address after the municipality, as stored.
    pub fn rest(&self) -> &str {
        &self.rest
    }

    /// The whole address: prefecture, municipality (a ward's city and ward run together, as in
    /// 札幌市中央区) and the rest, e.g. 長野県阿智村大字智里3-1. The table has no 郡 (district),
    /// so the 下伊那郡 of a full postal address is not included.
    pub fn full_text(&self) -> String {
        let m = self.municipality;
        let name: String = m.name().chars().filter(|c| *c != ' ').collect();
        format!("{}{}{}", m.prefecture().name(), name, self.rest)
    }

    /// The key for matching the rest of the address ([`fold_address`]).
    pub fn match_key(&self) -> String {
        fold_address(&self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn achi() -> MunicipalityCode {
        "204072".parse().unwrap()
    }

    #[test]
    fn valid() {
        let a = Address::new(achi(), "  大字智里３－１\u{3000}").unwrap();
        assert_eq!(a.rest(), "大字智里３－１");
        assert_eq!(a.municipality(), achi());
        assert_eq!(a.full_text(), "長野県阿智村大字智里３－１");
        assert_eq!(a.match_key(), "智里3-1");
        assert_eq!(a.match_key(), Address::new(achi(), "智里三丁目1番").unwrap().match_key());
        let ward = Address::new("011011".parse().unwrap(), "北1条西2丁目").unwrap();
        assert_eq!(ward.full_text(), "北海道札幌市中央区北1条西2丁目");
        assert!(Address::new(achi(), &"あ".repeat(200)).is_ok());
    }

    #[test]
    fn invalid() {
        use AddressError as E;
        let cases: &[(&str, E)] = &[
            ("", E::Empty),
            (" \u{3000} ", E::Empty),
            ("智里\n3-1", E::Forbidden { position: 3, code_point: 10 }),
            ("智里\u{202E}3-1", E::Forbidden { position: 3, code_point: 0x202E }),
        ];
        for (input, want) in cases {
            assert_eq!(Address::new(achi(), input), Err(*want), "{input:?}");
        }
        assert_eq!(Address::new(achi(), &"あ".repeat(201)), Err(E::TooLong { chars: 201 }));
        let e = Address::new(achi(), "智里\n3-1").unwrap_err().to_string();
        assert!(!e.contains("智里"), "{e}");
    }
}
