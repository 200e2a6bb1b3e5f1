//! The catalogue of lawful purposes (別表): which agency may ask for identity information, for
//! which purpose, which items each purpose may receive, how much, and whose. Signed by a
//! national administrator (`juki.purposes/v1`); a provision request names a purpose by its
//! code, and anything outside the asking agency's entries is refused. Pure: no I/O.
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
//! purpose KENZEI
//! agency urn:juki:agency:nagano-prefecture
//! law 第三十条の十五 (県の条例で定める事務: 県税の賦課徴収)
//! items code name birth sex address
//! search yes
//! per-minute 600
//! per-day 100000
//! within 20
//! purpose …
//! ```
//!
//! Every purpose is one block of seven lines in this order, and an eighth, `within`, when its
//! jurisdiction is not the whole country. `search` says whether the purpose may look residents
//! up by the four basic items (a match) or only by 住民票コード. `per-minute` and `per-day`
//! bound what one agency may ask under the purpose: a rate, and a quota per day (Japan time).
//! `within` lists the places whose residents the purpose concerns — a prefecture's own
//! business its prefecture's residents, a municipality's its own —, each a two-digit prefecture
//! code (`20`, 長野県) or a six-digit municipality code with its check digit (`204072`,
//! 阿智村; a designated city as a whole covers its wards), in the order written, none twice
//! nor inside another listed; without it the purpose is nationwide.

use std::collections::BTreeSet;
use std::fmt;

use registry_domain::{MunicipalityCode, PrefectureCode};
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

/// A place a purpose's jurisdiction covers: a whole prefecture, or one municipality (a
/// designated city as a whole with its wards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// Every municipality of the prefecture, written as its two digits (`20`).
    Prefecture(PrefectureCode),
    /// The municipality, written as its six digits with the check digit (`204072`).
    Municipality(MunicipalityCode),
}

impl Place {
    /// Parses a two-digit prefecture code or a six-digit municipality code.
    pub fn parse(text: &str) -> Result<Place, String> {
        match text.chars().count() {
            2 => text
                .parse::<PrefectureCode>()
                .map(Place::Prefecture)
                .map_err(|e| format!("{text:?}: {e}")),
            6 => MunicipalityCode::parse(text).map(Place::Municipality).map_err(|e| e.to_string()),
            _ => Err(format!(
                "{:?} is neither a prefecture code (2 digits, e.g. 20 for 長野県) nor a \
                 municipality code (6 digits with the check digit, e.g. 204072 for 阿智村)",
                text.chars().take(16).collect::<String>()
            )),
        }
    }

    /// Whether the residents of `town` (the municipality or ward keeping their record) are
    /// within this place.
    pub fn covers(self, town: MunicipalityCode) -> bool {
        match self {
            Place::Prefecture(prefecture) => town.prefecture() == prefecture,
            Place::Municipality(municipality) => municipality.contains(town),
        }
    }

    /// Its name: 長野県, 松本市, 札幌市 中央区.
    pub fn name(self) -> &'static str {
        match self {
            Place::Prefecture(prefecture) => prefecture.name(),
            Place::Municipality(municipality) => municipality.name(),
        }
    }

    /// Whether every municipality of `other` is within this place (a place covers itself).
    fn includes(self, other: Place) -> bool {
        match (self, other) {
            (Place::Prefecture(a), Place::Prefecture(b)) => a == b,
            (_, Place::Municipality(town)) => self.covers(town),
            (Place::Municipality(_), Place::Prefecture(_)) => false,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Prefecture(prefecture) => prefecture.fmt(f),
            Place::Municipality(municipality) => municipality.fmt(f),
        }
    }
}

/// A jurisdiction, written as its places' codes separated by spaces, in the order given.
pub fn places_text(places: &[Place]) -> String {
    places.iter().map(Place::to_string).collect::<Vec<_>>().join(" ")
}

/// Parses [`places_text`]'s form: at least one place, none twice nor inside another listed
/// (`20 204072` names 阿智村 twice, since 長野県 covers it).
pub fn parse_places(text: &str) -> Result<Vec<Place>, String> {
    let mut places: Vec<Place> = Vec::new();
    for code in text.split(' ').filter(|c| !c.is_empty()) {
        let place = Place::parse(code)?;
        if let Some(wider) = places.iter().find(|p| p.includes(place)) {
            return Err(if *wider == place {
                format!("{place} twice")
            } else {
                format!("{place} lies within {wider}, listed already")
            });
        }
        if let Some(narrower) = places.iter().find(|p| place.includes(**p)) {
            return Err(format!("{narrower} lies within {place}: list {place} alone"));
        }
        places.push(place);
    }
    if places.is_empty() {
        return Err("within names no place (leave the line out for a nationwide purpose)".into());
    }
    Ok(places)
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
    /// Whose records it concerns: the residents of these places alone, in the order signed;
    /// empty for a nationwide purpose (no `within` line).
    pub within: Vec<Place>,
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
            if !p.within.is_empty() {
                text.push_str(&format!("within {}\n", places_text(&p.within)));
            }
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
        let mut lines = Cursor { lines, at: 1 };
        let (_, issued) = lines.field("issued")?;
        let issued = issued.parse().map_err(|_| bad("issued is not a number".into()))?;
        let mut purposes: Vec<Purpose> = Vec::new();
        let mut codes = BTreeSet::new();
        while !lines.done() {
            if purposes.len() == MAX_PURPOSES {
                return Err(bad(format!("more than {MAX_PURPOSES} purposes")));
            }
            let (number, code) = lines.field("purpose")?;
            if !valid_code(code) {
                return Err(bad(format!(
                    "line {number}: a purpose code is 1 to 32 upper-case letters, digits and -"
                )));
            }
            let (number, agency) = lines.field("agency")?;
            if !agency.starts_with("urn:juki:agency:") {
                return Err(bad(format!("line {number}: agency is not an agency's identity")));
            }
            if !codes.insert((code, agency)) {
                return Err(bad(format!("line {number}: purpose {code} twice for one agency")));
            }
            let (_, law) = lines.field("law")?;
            let (number, items) = lines.field("items")?;
            let items = parse_items(items).map_err(|e| bad(format!("line {number}: {e}")))?;
            let (number, search) = lines.field("search")?;
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
            let (number, per_minute) = lines.field("per-minute")?;
            let per_minute = per_minute
                .parse()
                .map_err(|_| bad(format!("line {number}: per-minute is not a number")))?;
            let (number, per_day) = lines.field("per-day")?;
            let per_day = per_day
                .parse()
                .map_err(|_| bad(format!("line {number}: per-day is not a number")))?;
            // The jurisdiction, when the purpose is not nationwide.
            let within = match lines.optional("within")? {
                None => Vec::new(),
                Some((number, places)) => {
                    parse_places(places).map_err(|e| bad(format!("line {number}: {e}")))?
                }
            };
            purposes.push(Purpose {
                code: code.to_owned(),
                agency: agency.to_owned(),
                law: law.to_owned(),
                items,
                search,
                per_minute,
                per_day,
                within,
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

    /// Whether the purpose concerns the residents of `town` (the municipality or ward that
    /// keeps their record): always for a nationwide purpose, else when a place of its
    /// `within` covers the town.
    pub fn covers(&self, town: MunicipalityCode) -> bool {
        self.within.is_empty() || self.within.iter().any(|place| place.covers(town))
    }
}

/// The lines of a catalogue being read, and where.
struct Cursor<'a> {
    lines: Vec<&'a str>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.at >= self.lines.len()
    }

    /// The value of the next line, which must be field `name`, with its line number.
    fn field(&mut self, name: &str) -> Result<(usize, &'a str), CatalogueError> {
        let number = self.at + 1;
        let line = *self
            .lines
            .get(self.at)
            .ok_or_else(|| CatalogueError(format!("it ends where {name} belongs")))?;
        self.at += 1;
        if line.chars().any(char::is_control) {
            return Err(CatalogueError(format!("line {number} holds a control character")));
        }
        let value = line
            .strip_prefix(name)
            .and_then(|l| l.strip_prefix(' '))
            .ok_or_else(|| CatalogueError(format!("line {number} is not {name}")))?;
        Ok((number, value))
    }

    /// [`Cursor::field`] if the next line is field `name` (or that name alone), else `None`
    /// and nothing read.
    fn optional(&mut self, name: &str) -> Result<Option<(usize, &'a str)>, CatalogueError> {
        let next = self.lines.get(self.at).copied().unwrap_or_default();
        match next.strip_prefix(name) {
            Some("") => Err(CatalogueError(format!(
                "line {}: {name} names no place (leave the line out for a nationwide purpose)",
                self.at + 1
            ))),
            Some(rest) if rest.starts_with(' ') => self.field(name).map(Some),
            _ => Ok(None),
        }
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
                    within: Vec::new(),
                },
                Purpose {
                    code: "NENKIN-JUSHO".into(),
                    agency: "urn:juki:agency:pension-service".into(),
                    law: "別表第一 第九十二号 (住所の確認)".into(),
                    items: [Item::Code, Item::Name, Item::Address].into_iter().collect(),
                    search: false,
                    per_minute: 60,
                    per_day: 1000,
                    within: Vec::new(),
                },
                Purpose {
                    code: "KENZEI".into(),
                    agency: "urn:juki:agency:nagano-prefecture".into(),
                    law: "第三十条の十五 (県税の賦課徴収)".into(),
                    items: [Item::Code, Item::Name, Item::Address].into_iter().collect(),
                    search: true,
                    per_minute: 60,
                    per_day: 1000,
                    within: vec![place("20")],
                },
                Purpose {
                    code: "KENZEI-SHIBU".into(),
                    agency: "urn:juki:agency:nagano-prefecture".into(),
                    law: "第三十条の十五 (県税の賦課徴収: 県税事務所)".into(),
                    items: [Item::Code, Item::Name].into_iter().collect(),
                    search: false,
                    per_minute: 60,
                    per_day: 1000,
                    within: vec![place("202029"), place("13"), place("011002")],
                },
            ],
        }
    }

    fn place(code: &str) -> Place {
        Place::parse(code).unwrap()
    }

    fn town(code: &str) -> MunicipalityCode {
        MunicipalityCode::parse(code).unwrap()
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

    #[test]
    fn a_jurisdiction_is_written_as_given_and_read_back() {
        let c = catalogue();
        let text = c.text();
        // Exactly one `within` per purpose that has one, last in its block, in the order given.
        assert!(text.contains("per-day 1000\nwithin 20\npurpose KENZEI-SHIBU\n"), "{text}");
        assert!(text.ends_with("per-day 1000\nwithin 202029 13 011002\n"), "{text}");
        assert_eq!(text.matches("within").count(), 2);
        let parsed = Catalogue::parse(&text).unwrap();
        assert_eq!(parsed, c);
        assert_eq!(parsed.text(), text);
        // A catalogue written before `within` existed means what it meant: nationwide.
        let old = "juki.purposes/v1\nissued 5\npurpose A\nagency urn:juki:agency:a\nlaw x\n\
                   items code\nsearch no\nper-minute 1\nper-day 1\n";
        let parsed = Catalogue::parse(old).unwrap();
        assert!(parsed.purposes[0].within.is_empty());
        assert_eq!(parsed.text(), old);
    }

    #[test]
    fn malformed_jurisdictions_are_refused_with_their_line() {
        let text = catalogue().text();
        let within = |line: &str| text.replacen("within 20\n", &format!("{line}\n"), 1);
        let cases = [
            ("within", "line 24: within names no place"),
            ("within ", "line 24: within names no place"),
            ("within 48", "line 24: \"48\": there is no prefecture 48"),
            ("within 00", "there is no prefecture 0"),
            ("within 2", "line 24: \"2\" is neither a prefecture code"),
            ("within 204071", "line 24: 204071 is not a municipality code"),
            ("within 200000", "200000 has a valid check digit but is not a municipality"),
            ("within ２０", "two ASCII digits"),
            ("within 20 13 20", "line 24: 20 twice"),
            ("within 204072 204072", "204072 twice"),
            ("within 20 204072", "204072 lies within 20, listed already"),
            ("within 204072 20", "204072 lies within 20: list 20 alone"),
            ("within 011002 011011", "011011 lies within 011002"),
            ("within 20\u{7}", "line 24 holds a control character"),
        ];
        for (line, expected) in cases {
            let error = Catalogue::parse(&within(line)).unwrap_err().to_string();
            assert!(error.contains(expected), "{line:?}: {error}");
        }
        // Out of place: before per-day, twice, or where the next purpose belongs.
        let misplaced = [
            text.replacen("per-day 1000\nwithin 20\n", "within 20\nper-day 1000\n", 1),
            text.replacen("within 20\n", "within 20\nwithin 13\n", 1),
            text.replacen("\npurpose ", "\nwithin 20\npurpose ", 1),
            text.replacen("within 20\n", "within: 20\n", 1),
        ];
        for text in misplaced {
            assert!(Catalogue::parse(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_purpose_covers_the_residents_of_its_places_alone() {
        let c = catalogue();
        let (nationwide, prefecture, offices) = (&c.purposes[0], &c.purposes[2], &c.purposes[3]);
        for code in ["204072", "202029", "131016", "011011", "473821"] {
            assert!(nationwide.covers(town(code)), "{code}");
        }
        // 長野県: 阿智村, 松本市 and 下諏訪町, not 千代田区.
        for code in ["204072", "202029", "203611"] {
            assert!(prefecture.covers(town(code)), "{code}");
        }
        assert!(!prefecture.covers(town("131016")));
        // 松本市, 東京都 and 札幌市 with its wards, not 阿智村 nor 横浜市's wards.
        for code in ["202029", "131016", "011002", "011011"] {
            assert!(offices.covers(town(code)), "{code}");
        }
        for code in ["204072", "203611", "141011", "012025"] {
            assert!(!offices.covers(town(code)), "{code}");
        }
        assert_eq!(place("20"), Place::Prefecture(PrefectureCode::new(20).unwrap()));
        assert_eq!(place("204072").to_string(), "204072");
        assert_eq!(place("01").to_string(), "01");
        assert_eq!((place("20").name(), place("202029").name()), ("長野県", "松本市"));
    }
}
