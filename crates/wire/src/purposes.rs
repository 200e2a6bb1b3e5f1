//! The catalogue of lawful purposes (別表): which agency may ask for identity information, for
//! which purpose, which items each purpose may receive, and how much. Signed by a national
//! administrator (`juki.purposes/v1`); a provision request names a purpose by its code, and
//! anything outside the asking agency's entries is refused. Pure: no I/O.
//!
//! ```text
//! juki.purposes/v1
//! issued 1764806400
//! purpose NENKIN-GENKYO
//! agency urn:juki:agency:pension-service
//! law 別表第一 第九十二号 (国民年金法による年金である給付の支給に関する事務)
//! items code name reading birth sex address change status individual-number
//! search yes
//! per-minute 6000
//! per-day 2000000
//! purpose …
//! ```
//!
//! Every purpose is one block of seven lines in this order. `search` says whether the purpose
//! may look residents up by the four basic items (a match) or only by 住民票コード. `per-minute`
//! and `per-day` bound what one agency may ask under the purpose: a rate, and a quota per day
//! (Japan time).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The first line of a catalogue.
pub const PURPOSES_HEADER: &str = "juki.purposes/v1";

/// Most purposes a catalogue may hold.
pub const MAX_PURPOSES: usize = 10_000;

/// An item of identity information (本人確認情報) a purpose may receive.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Item {
    /// 住民票コード.
    Code,
    /// 氏名.
    Name,
    /// Its reading (フリガナ).
    Reading,
    /// 生年月日.
    Birth,
    /// 性別.
    Sex,
    /// 住所.
    Address,
    /// 変更情報: the latest change's reason, date and history number.
    Change,
    /// Whether the record is active or closed.
    Status,
    /// 個人番号 (only for the purposes the number law lists).
    IndividualNumber,
}

impl Item {
    /// Every item, in the order answers list them.
    pub const ALL: [Item; 9] = [
        Item::Code,
        Item::Name,
        Item::Reading,
        Item::Birth,
        Item::Sex,
        Item::Address,
        Item::Change,
        Item::Status,
        Item::IndividualNumber,
    ];

    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Code => "code",
            Item::Name => "name",
            Item::Reading => "reading",
            Item::Birth => "birth",
            Item::Sex => "sex",
            Item::Address => "address",
            Item::Change => "change",
            Item::Status => "status",
            Item::IndividualNumber => "individual-number",
        }
    }

    /// The item named `name`.
    pub fn parse(name: &str) -> Option<Item> {
        Item::ALL.into_iter().find(|item| item.as_str() == name)
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of items, written as their names separated by spaces, in [`Item::ALL`]'s order.
pub fn items_text(items: &BTreeSet<Item>) -> String {
    items.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(" ")
}

/// Parses [`items_text`]'s form: known names, each once.
pub fn parse_items(text: &str) -> Result<BTreeSet<Item>, String> {
    let mut items = BTreeSet::new();
    for name in text.split(' ').filter(|n| !n.is_empty()) {
        let item = Item::parse(name).ok_or_else(|| format!("unknown item {name:?}"))?;
        if !items.insert(item) {
            return Err(format!("item {name} twice"));
        }
    }
    if items.is_empty() {
        return Err("no items".into());
    }
    Ok(items)
}

/// One lawful purpose of one agency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// Its code: upper-case ASCII letters, digits and `-`, at most 32.
    pub code: String,
    /// The agency that holds it (its identity URI, `urn:juki:agency:…`).
    pub agency: String,
    /// The law and table entry that grant it (one line).
    pub law: String,
    /// The items it may receive.
    pub items: BTreeSet<Item>,
    /// Whether it may look residents up by the four basic items.
    pub search: bool,
    /// Requests per minute one agency may make under it.
    pub per_minute: u32,
    /// Requests per day (Japan time) one agency may make under it.
    pub per_day: u32,
}

/// A catalogue of purposes, as a national administrator signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    /// When it was issued (POSIX seconds); a node takes only a newer one.
    pub issued: u64,
    /// The purposes, in the order signed.
    pub purposes: Vec<Purpose>,
}

/// Why a catalogue's text is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a purposes catalogue: {0}")]
pub struct CatalogueError(String);

/// Why a request's purpose is refused, by what the catalogue says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The agency holds no purpose with this code.
    NotHeld,
    /// The purpose may not receive these items.
    Items(BTreeSet<Item>),
    /// The purpose may not search by the four basic items.
    NoSearch,
}

impl Catalogue {
    /// The text to sign.
    pub fn text(&self) -> String {
        let mut text = format!("{PURPOSES_HEADER}\nissued {}\n", self.issued);
        for p in &self.purposes {
            text.push_str(&format!(
                "purpose {}\nagency {}\nlaw {}\nitems {}\nsearch {}\nper-minute {}\nper-day {}\n",
                p.code,
                p.agency,
                p.law.replace(['\n', '\r'], " "),
                items_text(&p.items),
                if p.search { "yes" } else { "no" },
                p.per_minute,
                p.per_day
            ));
        }
        text
    }

    /// Parses a catalogue's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let bad = |what: String| CatalogueError(what);
        let body = text.strip_suffix('\n').ok_or_else(|| bad("no final newline".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines[0] != PURPOSES_HEADER {
            return Err(bad(format!("the first line is not {PURPOSES_HEADER}")));
        }
        let mut at = 1;
        // The value of the next line, which must be field `name`, with its line number.
        let mut field = |name: &str| -> Result<(usize, &str), CatalogueError> {
            let number = at + 1;
            let line = lines.get(at).ok_or_else(|| bad(format!("it ends where {name} belongs")))?;
            at += 1;
            if line.chars().any(char::is_control) {
                return Err(bad(format!("line {number} holds a control character")));
            }
            let value = line
                .strip_prefix(name)
                .and_then(|l| l.strip_prefix(' '))
                .ok_or_else(|| bad(format!("line {number} is not {name}")))?;
            Ok((number, value))
        };
        let (_, issued) = field("issued")?;
        let issued = issued.parse().map_err(|_| bad("issued is not a number".into()))?;
        let body = lines.get(2..).unwrap_or_default();
        let blocks = body.len() / 7;
        if !body.len().is_multiple_of(7) {
            return Err(bad("every purpose is seven lines".into()));
        }
        if blocks > MAX_PURPOSES {
            return Err(bad(format!("more than {MAX_PURPOSES} purposes")));
        }
        let mut purposes: Vec<Purpose> = Vec::with_capacity(blocks);
        let mut codes = BTreeSet::new();
        for _ in 0..blocks {
            let (number, code) = field("purpose")?;
            if !valid_code(code) {
                return Err(bad(format!(
                    "line {number}: a purpose code is 1 to 32 upper-case letters, digits and -"
                )));
            }
            let (number, agency) = field("agency")?;
            if !agency.starts_with("urn:juki:agency:") {
                return Err(bad(format!("line {number}: agency is not an agency's identity")));
            }
            if !codes.insert((code, agency)) {
                return Err(bad(format!("line {number}: purpose {code} twice for one agency")));
            }
            let (_, law) = field("law")?;
            let (number, items) = field("items")?;
            let items = parse_items(items).map_err(|e| bad(format!("line {number}: {e}")))?;
            let (number, search) = field("search")?;
            let search = match search {
                "yes" => true,
                "no" => false,
                _ => return Err(bad(format!("line {number}: search is yes or no"))),
            };
            if search && !items.contains(&Item::Code) {
                return Err(bad(format!(
                    "line {number}: a purpose that may search must receive the code (the \
                     candidates of a match are named by it)"
                )));
            }
            let (number, per_minute) = field("per-minute")?;
            let per_minute = per_minute
                .parse()
                .map_err(|_| bad(format!("line {number}: per-minute is not a number")))?;
            let (number, per_day) = field("per-day")?;
            let per_day = per_day
                .parse()
                .map_err(|_| bad(format!("line {number}: per-day is not a number")))?;
            purposes.push(Purpose {
                code: code.to_owned(),
                agency: agency.to_owned(),
                law: law.to_owned(),
                items,
                search,
                per_minute,
                per_day,
            });
        }
        Ok(Catalogue { issued, purposes })
    }

    /// The purpose `code` of `agency`, if the catalogue lists it.
    pub fn held(&self, agency: &str, code: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.code == code && p.agency == agency)
    }

    /// The purpose `code` of `agency`, if it may receive `items` (and search, when asked to).
    pub fn permit(
        &self,
        agency: &str,
        code: &str,
        items: &BTreeSet<Item>,
        search: bool,
    ) -> Result<&Purpose, Denied> {
        let purpose = self.held(agency, code).ok_or(Denied::NotHeld)?;
        purpose.allows(items, search)?;
        Ok(purpose)
    }
}

impl Purpose {
    /// Whether the purpose may receive `items` (and search, when asked to).
    pub fn allows(&self, items: &BTreeSet<Item>, search: bool) -> Result<(), Denied> {
        let beyond: BTreeSet<Item> = items.difference(&self.items).copied().collect();
        if !beyond.is_empty() {
            return Err(Denied::Items(beyond));
        }
        if search && !self.search {
            return Err(Denied::NoSearch);
        }
        Ok(())
    }
}

fn valid_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue {
            issued: 1_764_806_400,
            purposes: vec![
                Purpose {
                    code: "NENKIN-GENKYO".into(),
                    agency: "urn:juki:agency:pension-service".into(),
                    law: "別表第一 第九十二号".into(),
                    items: Item::ALL.into_iter().collect(),
                    search: true,
                    per_minute: 600,
                    per_day: 100_000,
                },
                Purpose {
                    code: "NENKIN-JUSHO".into(),
                    agency: "urn:juki:agency:pension-service".into(),
                    law: "別表第一 第九十二号 (住所の確認)".into(),
                    items: [Item::Code, Item::Name, Item::Address].into_iter().collect(),
                    search: false,
                    per_minute: 60,
                    per_day: 1000,
                },
            ],
        }
    }

    #[test]
    fn a_catalogue_parses_back() {
        let c = catalogue();
        assert_eq!(Catalogue::parse(&c.text()).unwrap(), c);
        let empty = Catalogue { issued: 5, purposes: vec![] };
        assert_eq!(Catalogue::parse(&empty.text()).unwrap(), empty);
    }

    #[test]
    fn malformed_catalogues_are_refused() {
        let text = catalogue().text();
        let cases = [
            ("no final newline", text.trim_end().to_owned()),
            ("another header", text.replace(PURPOSES_HEADER, "juki.purposes/v2")),
            ("lowercase code", text.replace("purpose NENKIN-JUSHO", "purpose nenkin")),
            ("unknown item", text.replace("items code name address", "items code name salary")),
            ("repeated item", text.replace("items code name address", "items code code")),
            (
                "not an agency",
                text.replacen("agency urn:juki:agency:", "agency urn:juki:console:", 1),
            ),
            ("search maybe", text.replacen("search yes", "search maybe", 1)),
            ("a line short", text.replacen("per-day 1000\n", "", 1)),
            (
                "lines swapped",
                text.replacen("search no\nper-minute 60", "per-minute 60\nsearch no", 1),
            ),
            ("a purpose twice", text.replace("NENKIN-JUSHO", "NENKIN-GENKYO")),
            ("a control character", text.replacen("別表第一", "別表\u{7}第一", 1)),
            (
                "a search without the code",
                text.replacen("search no", "search yes", 1)
                    .replace("items code name address", "items name address"),
            ),
        ];
        for (what, text) in cases {
            assert!(Catalogue::parse(&text).is_err(), "{what}");
        }
    }

    #[test]
    fn errors_name_their_line_and_the_count_is_bounded() {
        let text = catalogue().text().replacen("search yes", "search maybe", 1);
        let error = Catalogue::parse(&text).unwrap_err().to_string();
        assert!(error.contains("line 7: search is yes or no"), "{error}");
        let text = catalogue().text().replacen("agency urn:juki:agency:", "agency x", 1);
        let error = Catalogue::parse(&text).unwrap_err().to_string();
        assert!(error.contains("line 4:"), "{error}");
        assert_eq!(Item::IndividualNumber.to_string(), "individual-number");
        let many = |n: usize| {
            let mut c = catalogue();
            c.purposes = (0..n)
                .map(|i| Purpose { code: format!("P-{i}"), ..catalogue().purposes[1].clone() })
                .collect();
            c
        };
        let most = many(MAX_PURPOSES);
        assert_eq!(Catalogue::parse(&most.text()).unwrap().purposes.len(), MAX_PURPOSES);
        let error = Catalogue::parse(&many(MAX_PURPOSES + 1).text()).unwrap_err().to_string();
        assert!(error.contains("more than"), "{error}");
    }

    #[test]
    fn a_request_is_permitted_only_within_its_agency_s_purpose() {
        let c = catalogue();
        let pension = "urn:juki:agency:pension-service";
        let items = |list: &[Item]| list.iter().copied().collect::<BTreeSet<_>>();
        assert!(c.permit(pension, "NENKIN-GENKYO", &items(&Item::ALL), true).is_ok());
        assert_eq!(
            c.permit("urn:juki:agency:tax", "NENKIN-GENKYO", &items(&[Item::Name]), false),
            Err(Denied::NotHeld)
        );
        assert_eq!(
            c.permit(pension, "NENKIN-X", &items(&[Item::Name]), false),
            Err(Denied::NotHeld)
        );
        assert_eq!(
            c.permit(pension, "NENKIN-JUSHO", &items(&[Item::Name, Item::Birth]), false),
            Err(Denied::Items(items(&[Item::Birth])))
        );
        assert_eq!(
            c.permit(pension, "NENKIN-JUSHO", &items(&[Item::Name]), true),
            Err(Denied::NoSearch)
        );
        assert!(c.permit(pension, "NENKIN-JUSHO", &items(&[Item::Address]), false).is_ok());
    }
}
