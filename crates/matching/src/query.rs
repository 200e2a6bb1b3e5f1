//! A four-item query as an agency's clerk types it, read tolerantly, and the keys a store
//! fetches candidates by.
//!
//! Any item may be empty (missing), but a query must carry the name and the birth date, or the
//! name and the address: less than that cannot tell one person from many. Errors are typed,
//! have a stable [`QueryError::code`], and never repeat what the query said.

use registry_domain::fold::{
    self, DateNotationError, address_block, fold_address, fold_for_match, fold_name, fold_reading,
    fold_width, hiragana_to_katakana,
};
use registry_domain::{Date, MunicipalityCode, PersonName, Sex};

use crate::place::place;

/// A parsed query. Its fields are private; [`Query::keys`] gives what a store needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub(crate) name: QueryName,
    pub(crate) reading: Option<QueryReading>,
    pub(crate) birth: Option<Date>,
    pub(crate) sex: Option<Sex>,
    pub(crate) address: Option<QueryAddress>,
}

/// The name as typed, with its keys at each level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryName {
    /// As typed, white space removed.
    pub exact: String,
    /// [`fold_name`].
    pub folded: String,
    /// [`fold_for_match`].
    pub variant: String,
    /// Whether it is written in kana only (then it is compared with readings too).
    pub kana_only: bool,
}

/// The reading, folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryReading {
    /// [`fold_name`] of the katakana.
    pub folded: String,
    /// [`fold_reading`].
    pub loose: String,
}

/// The address: the municipality it names, if any, and the rest at each level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryAddress {
    pub municipality: Option<MunicipalityCode>,
    /// The whole address as typed, white space removed.
    pub typed: String,
    /// The whole address width-folded, white space removed.
    pub width: String,
    /// [`fold_address`] of the rest.
    pub key: String,
}

/// What a store needs to fetch candidates: the folded keys its indexes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// [`fold_for_match`] of the name (the `name_key` column).
    pub name_key: String,
    /// [`fold_reading`] of the reading, or of the name when it is written in kana (the
    /// `reading_key` column).
    pub reading_key: Option<String>,
    /// The birth date (the `birth` column).
    pub birth: Option<Date>,
    /// [`fold_address`] of the address after the municipality, cut after its first number
    /// ([`address_block`]): a prefix of the `address_key` column.
    pub address_key: Option<String>,
    /// The municipality, if the address names one.
    pub municipality: Option<MunicipalityCode>,
}

/// Why a query cannot be used. Messages never repeat the query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Neither name and birth date nor name and address.
    #[error(
        "a query needs the name (氏名) with the birth date (生年月日) or with the address (住所); \
         {0}"
    )]
    NotEnough(&'static str),
    /// The name is not text a name can be.
    #[error("the name (氏名) cannot be used: {0}")]
    Name(String),
    /// The reading is not kana.
    #[error(
        "the reading (フリガナ) must be kana (katakana or hiragana, any width, spaces allowed)"
    )]
    Reading,
    /// The birth date is in no known notation or does not exist.
    #[error("the birth date (生年月日) cannot be read: {0}")]
    Birth(DateNotationError),
    /// The sex is not one of the accepted spellings.
    #[error("the sex (性別) is 男, 女, 1, 2, M, F, male or female")]
    Sex,
    /// The address is too long or holds control characters.
    #[error(
        "the address (住所) must be printable text on one line of at most {max} characters",
        max = MAX_ADDRESS_CHARS
    )]
    Address,
}

impl QueryError {
    /// A stable code for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::NotEnough(_) => "not-enough-items",
            QueryError::Name(_) => "bad-name",
            QueryError::Reading => "bad-reading",
            QueryError::Birth(_) => "bad-birth",
            QueryError::Sex => "bad-sex",
            QueryError::Address => "bad-address",
        }
    }
}

/// The longest address accepted, prefecture and municipality included.
pub const MAX_ADDRESS_CHARS: usize = 300;

fn no_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | 'ヽ' | 'ヾ' | '\u{31F0}'..='\u{31FF}' | '\u{3099}' | '\u{309A}')
}

impl Query {
    /// Reads a query: every item in any notation the folds know, `reading` optional, and any
    /// item empty when unknown. The sex is 男/女, 1/2, M/F or male/female (either case, either
    /// width).
    pub fn parse(
        name: &str,
        reading: Option<&str>,
        birth: &str,
        sex: &str,
        address: &str,
    ) -> Result<Query, QueryError> {
        let name = name.trim();
        let birth = birth.trim();
        let address = address.trim();
        if name.is_empty() {
            return Err(QueryError::NotEnough("the name is missing"));
        }
        if birth.is_empty() && address.is_empty() {
            return Err(QueryError::NotEnough("both the birth date and the address are missing"));
        }
        let valid = PersonName::new(name).map_err(|e| QueryError::Name(e.to_string()))?;
        let folded = fold_name(valid.as_str());
        if folded.is_empty() {
            return Err(QueryError::NotEnough("the name holds only separators"));
        }
        let kana_only = folded.chars().all(is_kana);
        let name = QueryName {
            exact: no_space(valid.as_str()),
            variant: fold_for_match(valid.as_str()),
            folded,
            kana_only,
        };
        let reading = match reading.map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => {
                let folded = fold_name(&hiragana_to_katakana(&fold_width(r)));
                if folded.is_empty() || !folded.chars().all(is_kana) {
                    return Err(QueryError::Reading);
                }
                Some(QueryReading { loose: fold_reading(&folded), folded })
            }
        };
        let birth = if birth.is_empty() {
            None
        } else {
            Some(fold::parse_date(birth).map_err(QueryError::Birth)?)
        };
        let sex = parse_sex(sex)?;
        let address = if address.is_empty() {
            None
        } else {
            if address.chars().count() > MAX_ADDRESS_CHARS || address.chars().any(char::is_control)
            {
                return Err(QueryError::Address);
            }
            let p = place(address);
            Some(QueryAddress {
                municipality: p.municipality,
                typed: no_space(address),
                width: no_space(&fold_width(address)),
                key: fold_address(&p.rest),
            })
        };
        Ok(Query { name, reading, birth, sex, address })
    }

    /// The keys a store fetches candidates by.
    pub fn keys(&self) -> Keys {
        let reading_key = match &self.reading {
            Some(r) => Some(r.loose.clone()),
            None if self.name.kana_only => Some(fold_reading(&self.name.folded)),
            None => None,
        };
        Keys {
            name_key: self.name.variant.clone(),
            reading_key,
            birth: self.birth,
            address_key: self
                .address
                .as_ref()
                .map(|a| address_block(&a.key).to_owned())
                .filter(|k| !k.is_empty()),
            municipality: self.address.as_ref().and_then(|a| a.municipality),
        }
    }
}

fn parse_sex(s: &str) -> Result<Option<Sex>, QueryError> {
    let s = fold_width(s).trim().to_ascii_lowercase();
    Ok(match s.as_str() {
        "" => None,
        "男" | "1" | "m" | "male" | "男性" => Some(Sex::Male),
        "女" | "2" | "f" | "female" | "女性" => Some(Sex::Female),
        _ => return Err(QueryError::Sex),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sexes() {
        for s in ["男", "1", "M", "m", "male", "Male", "１", "Ｍ", " 男 ", "男性"] {
            assert_eq!(parse_sex(s), Ok(Some(Sex::Male)), "{s:?}");
        }
        for s in ["女", "2", "F", "f", "female", "FEMALE", "２", "女性"] {
            assert_eq!(parse_sex(s), Ok(Some(Sex::Female)), "{s:?}");
        }
        assert_eq!(parse_sex(""), Ok(None));
        assert_eq!(parse_sex("  "), Ok(None));
        for s in ["0", "3", "x", "男女", "mf"] {
            assert_eq!(parse_sex(s), Err(QueryError::Sex), "{s:?}");
        }
    }

    /// (name, reading, birth, sex, address, error code).
    #[test]
    fn refusals() {
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, &'a str, &'a str);
        let cases: &[Case] = &[
            ("", None, "1983-03-04", "1", "阿智村智里3-1", "not-enough-items"),
            ("山田　太郎", None, "", "1", "", "not-enough-items"),
            ("・", None, "1983-03-04", "", "", "not-enough-items"),
            ("山田\n太郎", None, "1983-03-04", "", "", "bad-name"),
            ("山田　太郎", Some("山田"), "1983-03-04", "", "", "bad-reading"),
            ("山田　太郎", Some("YAMADA"), "1983-03-04", "", "", "bad-reading"),
            ("山田　太郎", None, "1983-02-30", "", "", "bad-birth"),
            ("山田　太郎", None, "いつか", "", "", "bad-birth"),
            ("山田　太郎", None, "1983-03-04", "X", "", "bad-sex"),
            ("山田　太郎", None, "", "", "智里\n3-1", "bad-address"),
        ];
        for &(name, reading, birth, sex, address, code) in cases {
            let e = Query::parse(name, reading, birth, sex, address).unwrap_err();
            assert_eq!(e.code(), code, "{name:?} {reading:?} {birth:?} {sex:?} {address:?}");
            let message = e.to_string();
            for secret in ["山田", "太郎", "1983", "智里", "YAMADA", "いつか"] {
                assert!(!message.contains(secret), "{message}");
            }
        }
    }

    #[test]
    fn address_length() {
        let at_most = format!("阿智村智里{}", "1".repeat(MAX_ADDRESS_CHARS - 5));
        assert!(Query::parse("山田", None, "", "", &at_most).is_ok());
        let longer = format!("{at_most}1");
        let e = Query::parse("山田", None, "", "", &longer).unwrap_err();
        assert_eq!(e.code(), "bad-address");
    }

    #[test]
    fn keys() {
        let q = Query::parse(
            "髙橋　﨑子",
            Some("たかはし さきこ"),
            "昭和50年3月4日",
            "女",
            "長野県下伊那郡阿智村大字智里三丁目1番地 メゾン101",
        )
        .unwrap();
        let k = q.keys();
        assert_eq!(k.name_key, "高橋崎子");
        assert_eq!(k.reading_key.as_deref(), Some("タカハシサキコ"));
        assert_eq!(k.birth, Some("1975-03-04".parse().unwrap()));
        assert_eq!(k.address_key.as_deref(), Some("智里3-1"));
        assert_eq!(k.municipality, Some("204072".parse().unwrap()));
        let kanji = Query::parse("山田 太郎", None, "1975-03-04", "", "").unwrap().keys();
        assert_eq!(kanji.reading_key, None, "no reading to look up");
        let kana = Query::parse("ヤマダ タロウ", None, "1975-03-04", "", "").unwrap().keys();
        assert_eq!(kana.reading_key.as_deref(), Some("ヤマダタロ"));
        assert_eq!(kana.address_key, None);
    }
}
