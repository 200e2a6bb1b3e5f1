//! 性別 (sex, the law's 男女の別): 1 男 (male), 2 女 (female).
//!
//! The law lists 男女の別 among the 本人確認情報 (`reference/jukinet.md` §2.1); the notes give no
//! code values, and no other value appears in them. juki uses 1 and 2, the values Japanese
//! resident systems and ISO/IEC 5218 use for male and female; the ISO codes 0 (not known) and 9
//! (not applicable) are not accepted, because the register records one of the two. The codes
//! are written as one ASCII digit.

use std::fmt;
use std::str::FromStr;

/// 男女の別.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sex {
    /// 1 男.
    Male,
    /// 2 女.
    Female,
}

/// Why a value is not a sex code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sex (性別) code is 1 for 男 (male) or 2 for 女 (female)")]
pub struct SexError;

impl Sex {
    /// The code: 1 male, 2 female.
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
        }
    }

    /// The sex with this code.
    pub fn from_code(code: u8) -> Result<Self, SexError> {
        match code {
            1 => Ok(Sex::Male),
            2 => Ok(Sex::Female),
            _ => Err(SexError),
        }
    }

    /// The label a 住民票 prints: 男 or 女.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl FromStr for Sex {
    type Err = SexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1" => Ok(Sex::Male),
            "2" => Ok(Sex::Female),
            _ => Err(SexError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for sex in [Sex::Male, Sex::Female] {
            assert_eq!(sex.to_string().parse::<Sex>(), Ok(sex));
            assert_eq!(Sex::from_code(sex.code()), Ok(sex));
        }
        assert_eq!((Sex::Male.code(), Sex::Male.label()), (1, "男"));
        assert_eq!((Sex::Female.code(), Sex::Female.label()), (2, "女"));
        for bad in ["0", "3", "9", "", "01", " 1", "男", "M", "２"] {
            assert_eq!(bad.parse::<Sex>(), Err(SexError), "{bad:?}");
        }
        for bad in [0, 3, 9, 255] {
            assert_eq!(Sex::from_code(bad), Err(SexError));
        }
    }
}
