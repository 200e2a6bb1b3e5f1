//! 氏名 (name), its reading in katakana (フリガナ), and 旧氏 (a former surname) with its reading.
//!
//! A [`PersonName`] is any text a family register may hold, stored exactly as registered, only
//! trimmed (see `text.rs`; no Unicode normalisation, so the compatibility ideograph 神 U+FA19
//! stays U+FA19): non-empty, at most [`PersonName::MAX_CHARS`] characters, no control or invisible
//! characters. Kanji variants are kept exactly as given; matching folds them (see
//! [`crate::fold`]).
//!
//! A [`NameReading`] is full-width katakana only: the katakana letters ァ..ヺ (U+30A1..U+30FA,
//! small kana and ヴ included), the iteration marks ヽヾ, the prolonged sound mark ー, the middle
//! dot ・ (for foreign names), the combining voiced marks U+3099 and U+309A (a decomposed ガ), the small katakana extensions ㇰ..ㇿ (U+31F0..U+31FF, for Ainu
//! names), and at most one space between family and given name. Input may separate them with an
//! ASCII space or an ideographic space; the stored form always uses the ideographic space
//! U+3000, as a 住民票 prints it (ヤマダ　タロウ). Hiragana, half-width katakana and Latin
//! letters are refused with a hint; a form that wants to accept them converts first with
//! [`crate::fold::hiragana_to_katakana`] and [`crate::fold::fold_width`].
//!
//! Errors name the position and the class of a wrong character, never the name itself.

use std::fmt;
use std::str::FromStr;

use crate::text::{self, TextError};

/// A name as registered (氏名 or a 旧氏): trimmed, 1..=100 characters, nothing invisible, the
/// code points otherwise as given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonName(String);

/// Why text is not a name. Never contains the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    /// Nothing but white space.
    #[error("the name (氏名) is empty; give the name as in the family register, e.g. 山田　太郎")]
    Empty,
    /// Longer than the cap.
    #[error("the name (氏名) is {chars} characters long; at most {max} are allowed", max = PersonName::MAX_CHARS)]
    TooLong {
        /// Its length in characters (after trimming).
        chars: usize,
    },
    /// A control or invisible formatting character.
    #[error(
        "character {position} of the name (氏名) is a control or invisible character \
         (U+{code_point:04X}); names are printable text on one line"
    )]
    Forbidden {
        /// Its position, counting characters from 1 after trimming.
        position: usize,
        /// Its code point.
        code_point: u32,
    },
}

impl PersonName {
    /// The most characters a name may have.
    pub const MAX_CHARS: usize = 100;

    /// Trims and validates a name; the code points are kept as given.
    pub fn new(input: &str) -> Result<Self, PersonNameError> {
        text::clean(input, Self::MAX_CHARS).map(Self).map_err(|e| match e {
            TextError::Empty => PersonNameError::Empty,
            TextError::TooLong { chars } => PersonNameError::TooLong { chars },
            TextError::Forbidden { position, code_point } => {
                PersonNameError::Forbidden { position, code_point }
            }
        })
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PersonName {
    type Err = PersonNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A name's reading in full-width katakana, e.g. ヤマダ　タロウ.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NameReading(String);

/// Why text is not a katakana reading. Never contains the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameReadingError {
    /// Nothing but white space.
    #[error("the reading (フリガナ) is empty; write it in katakana, e.g. ヤマダ　タロウ")]
    Empty,
    /// Longer than the cap.
    #[error("the reading (フリガナ) is {chars} characters long; at most {max} are allowed", max = NameReading::MAX_CHARS)]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A character that is not allowed in a reading.
    #[error(
        "character {position} of the reading (フリガナ) is {kind}; write the reading in \
         full-width katakana with at most one space, e.g. ヤマダ　タロウ"
    )]
    NotKatakana {
        /// Its position, counting characters from 1 after trimming.
        position: usize,
        /// What it is instead, e.g. "hiragana".
        kind: &'static str,
    },
    /// More than one space, or two spaces in a row.
    #[error(
        "the reading (フリガナ) may have one space, between family and given name, e.g. ヤマダ　タロウ"
    )]
    Spaces,
}

fn is_reading_char(c: char) -> bool {
    // The combining (semi-)voiced sound marks U+3099 and U+309A, as a decomposed ガ or パ has.
    matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | 'ヽ' | 'ヾ' | '\u{31F0}'..='\u{31FF}' | '\u{3099}' | '\u{309A}')
}

fn char_kind(c: char) -> &'static str {
    match c {
        '\u{3041}'..='\u{309F}' => "hiragana",
        '\u{FF66}'..='\u{FF9F}' => "half-width katakana",
        '\u{FF01}'..='\u{FF5E}' => "a full-width ASCII character",
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' => "a kanji",
        c if c.is_ascii_alphanumeric() => "a Latin letter or digit",
        c if text::is_forbidden(c) => "a control or invisible character",
        _ => "not katakana",
    }
}

impl NameReading {
    /// The most characters a reading may have.
    pub const MAX_CHARS: usize = 100;

    /// Trims, writes the space as U+3000 and validates a reading; the kana are kept as given.
    pub fn new(input: &str) -> Result<Self, NameReadingError> {
        let cleaned = text::clean(input, usize::MAX).map_err(|e| match e {
            TextError::Empty => NameReadingError::Empty,
            TextError::TooLong { chars } => NameReadingError::TooLong { chars },
            TextError::Forbidden { position, .. } => {
                NameReadingError::NotKatakana { position, kind: "a control or invisible character" }
            }
        })?;
        let mut out = String::with_capacity(cleaned.len());
        let mut spaces = 0;
        for (i, c) in cleaned.chars().enumerate() {
            if c == ' ' || c == '\u{3000}' {
                spaces += 1;
                out.push('\u{3000}');
            } else if is_reading_char(c) {
                out.push(c);
            } else {
                return Err(NameReadingError::NotKatakana { position: i + 1, kind: char_kind(c) });
            }
        }
        if spaces > 1 {
            return Err(NameReadingError::Spaces);
        }
        let chars = out.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(NameReadingError::TooLong { chars });
        }
        Ok(Self(out))
    }

    /// The stored reading.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NameReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NameReading {
    type Err = NameReadingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A 旧氏 (former surname, recorded at the resident's request) with its reading.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormerSurname {
    surname: PersonName,
    reading: NameReading,
}

impl FormerSurname {
    /// A former surname and its reading.
    pub fn new(surname: PersonName, reading: NameReading) -> Self {
        Self { surname, reading }
    }

    /// The former surname.
    pub fn surname(&self) -> &PersonName {
        &self.surname
    }

    /// Its reading.
    pub fn reading(&self) -> &NameReading {
        &self.reading
    }
}

/// The 氏名 of a 本人確認情報: the name, its reading, and the 旧氏 where one is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    name: PersonName,
    reading: NameReading,
    former: Option<FormerSurname>,
}

impl Name {
    /// A name with its reading and, where recorded, the former surname.
    pub fn new(name: PersonName, reading: NameReading, former: Option<FormerSurname>) -> Self {
        Self { name, reading, former }
    }

    /// The name as written.
    pub fn name(&self) -> &PersonName {
        &self.name
    }

    /// The reading.
    pub fn reading(&self) -> &NameReading {
        &self.reading
    }

    /// The 旧氏, if recorded.
    pub fn former(&self) -> Option<&FormerSurname> {
        self.former.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        let cases = [
            ("山田　太郎", "山田　太郎"),
            ("  山田 太郎\u{3000}", "山田 太郎"),
            ("髙橋　﨑子", "髙橋　﨑子"), // variants kept as written
            ("斉\u{E0103}藤　一", "斉\u{E0103}藤　一"),
            ("SMITH JOHN", "SMITH JOHN"),
            ("か\u{3099}", "か\u{3099}"), // as given: not normalised
            ("\u{FA19}田　一", "\u{FA19}田　一"), // a compatibility ideograph stays itself
            ("﨑山　花", "﨑山　花"),
            ("一", "一"),
        ];
        for (input, stored) in cases {
            let n = PersonName::new(input).unwrap();
            assert_eq!(n.as_str(), stored);
            assert_eq!(n.to_string().parse::<PersonName>(), Ok(n));
        }
        assert!(PersonName::new(&"あ".repeat(100)).is_ok());
    }

    #[test]
    fn invalid_names() {
        use PersonNameError as E;
        let cases: &[(&str, E)] = &[
            ("", E::Empty),
            ("　 \t", E::Empty),
            ("山田\t太郎", E::Forbidden { position: 3, code_point: 9 }),
            ("山田\r\n太郎", E::Forbidden { position: 3, code_point: 13 }),
            ("山田\u{200D}太郎", E::Forbidden { position: 3, code_point: 0x200D }),
            ("\u{FEFF}山田", E::Forbidden { position: 1, code_point: 0xFEFF }),
            ("山田\0", E::Forbidden { position: 3, code_point: 0 }),
        ];
        for (input, want) in cases {
            assert_eq!(PersonName::new(input), Err(*want), "{input:?}");
        }
        assert_eq!(PersonName::new(&"あ".repeat(101)), Err(E::TooLong { chars: 101 }));
    }

    #[test]
    fn valid_readings() {
        let cases = [
            ("ヤマダ　タロウ", "ヤマダ　タロウ"),
            ("ヤマダ タロウ", "ヤマダ　タロウ"),
            (" ヤマダ タロウ ", "ヤマダ　タロウ"),
            ("ヤマダ", "ヤマダ"),
            ("スミス・ジョン", "スミス・ジョン"),
            ("ヴァレリー　ジョー", "ヴァレリー　ジョー"),
            ("キョウコ", "キョウコ"),
            ("カ\u{3099}ク", "カ\u{3099}ク"), // a combining voiced mark is kept as given
            ("ㇰㇱ", "ㇰㇱ"),
        ];
        for (input, stored) in cases {
            let r = NameReading::new(input).unwrap();
            assert_eq!(r.as_str(), stored, "{input:?}");
            assert_eq!(r.to_string().parse::<NameReading>(), Ok(r));
        }
    }

    #[test]
    fn invalid_readings() {
        use NameReadingError as E;
        let cases: &[(&str, E)] = &[
            ("", E::Empty),
            ("やまだ　たろう", E::NotKatakana { position: 1, kind: "hiragana" }),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", E::NotKatakana { position: 1, kind: "half-width katakana" }),
            ("ヤマダ　太郎", E::NotKatakana { position: 5, kind: "a kanji" }),
            ("YAMADA", E::NotKatakana { position: 1, kind: "a Latin letter or digit" }),
            (
                "ヤマダ\tタロウ",
                E::NotKatakana { position: 4, kind: "a control or invisible character" },
            ),
            ("ヤマダ　タロウ　ジロウ", E::Spaces),
            ("ヤマダ  タロウ", E::Spaces),
            (
                "ヤマダ－タロウ",
                E::NotKatakana { position: 4, kind: "a full-width ASCII character" },
            ),
            ("ヤマダ゠タロウ", E::NotKatakana { position: 4, kind: "not katakana" }),
        ];
        for (input, want) in cases {
            assert_eq!(NameReading::new(input), Err(*want), "{input:?}");
        }
        assert_eq!(NameReading::new(&"ア".repeat(101)), Err(E::TooLong { chars: 101 }));
    }

    #[test]
    fn errors_never_repeat_the_name() {
        let e = PersonName::new("山田\t太郎").unwrap_err().to_string();
        assert!(!e.contains("山田") && !e.contains("太郎"), "{e}");
        let e = NameReading::new("ヤマダ　太郎").unwrap_err().to_string();
        assert!(!e.contains("太郎") && e.contains("kanji"), "{e}");
    }

    #[test]
    fn name_with_former_surname() {
        let former = FormerSurname::new(
            PersonName::new("佐藤").unwrap(),
            NameReading::new("サトウ").unwrap(),
        );
        let name = Name::new(
            PersonName::new("山田　花子").unwrap(),
            NameReading::new("ヤマダ ハナコ").unwrap(),
            Some(former.clone()),
        );
        assert_eq!(name.name().as_str(), "山田　花子");
        assert_eq!(name.reading().as_str(), "ヤマダ　ハナコ");
        assert_eq!(name.former(), Some(&former));
        assert_eq!(name.former().unwrap().surname().as_str(), "佐藤");
        assert_eq!(name.former().unwrap().reading().as_str(), "サトウ");
    }
}
