//! Reading the place off the front of an address: prefecture, county (郡) and municipality.
//!
//! A clerk may write 「長野県下伊那郡阿智村大字智里3-1」, 「阿智村智里三丁目1番」 or only
//! 「智里3-1」. The prefecture and the county may be left out, and the municipality too. The
//! municipality is recognised by its name in the JIS X 0402 table (a designated city's ward as
//! 札幌市中央区); a name that several municipalities share (府中市) names one only with its
//! prefecture. The rest is what follows, to be folded by `registry_domain::fold::fold_address`.

use registry_domain::fold::{fold_kanji, fold_width};
use registry_domain::{MunicipalityCode, PrefectureCode};

/// The municipality an address names, if it names one, and the text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub municipality: Option<MunicipalityCode>,
    pub rest: String,
}

fn normal(s: &str) -> String {
    fold_kanji(&fold_width(s)).chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every municipality with its name as [`normal`] writes it, computed once.
fn names() -> &'static [(MunicipalityCode, String)] {
    static NAMES: std::sync::OnceLock<Vec<(MunicipalityCode, String)>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| MunicipalityCode::all().map(|m| (m, normal(m.name()))).collect())
}

/// Splits `address` into its municipality and the rest.
pub(crate) fn place(address: &str) -> Place {
    let text = normal(address);
    let mut rest = text.as_str();
    let mut prefecture = None;
    for p in PrefectureCode::all() {
        if let Some(after) = rest.strip_prefix(&normal(p.name())) {
            prefecture = Some(p);
            rest = after;
            break;
        }
    }
    if let Some(found) = municipality_at(rest, prefecture) {
        return found;
    }
    // A county (…郡) before the municipality.
    if let Some(pos) = rest.find('郡')
        && rest[..pos].chars().count() <= 6
        && let Some(found) = municipality_at(&rest[pos + '郡'.len_utf8()..], prefecture)
    {
        return found;
    }
    Place { municipality: None, rest: rest.to_owned() }
}

/// The longest municipality name `text` starts with (within `prefecture` if known).
fn municipality_at(text: &str, prefecture: Option<PrefectureCode>) -> Option<Place> {
    let matches: Vec<(usize, MunicipalityCode)> = names()
        .iter()
        .filter(|(m, name)| {
            prefecture.is_none_or(|p| m.prefecture() == p)
                && !name.is_empty()
                && text.starts_with(name.as_str())
        })
        .map(|(m, name)| (name.len(), *m))
        .collect();
    let len = matches.iter().map(|&(len, _)| len).max()?;
    let codes: Vec<MunicipalityCode> =
        matches.iter().filter(|&&(l, _)| l == len).map(|&(_, m)| m).collect();
    let rest = text[len..].to_owned();
    // A name shared by several municipalities names none of them.
    let municipality = (codes.len() == 1).then(|| codes[0]);
    Some(Place { municipality, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        let achi: MunicipalityCode = "204072".parse().unwrap();
        let cases = [
            ("長野県下伊那郡阿智村大字智里3-1", Some(achi), "大字智里3-1"),
            ("長野県阿智村智里3-1", Some(achi), "智里3-1"),
            ("下伊那郡阿智村智里3-1", Some(achi), "智里3-1"),
            ("阿智村 智里3-1", Some(achi), "智里3-1"),
            ("智里3-1", None, "智里3-1"),
            ("北海道札幌市中央区北1条西2丁目", Some("011011".parse().unwrap()), "北1条西2丁目"),
        ];
        for (input, municipality, rest) in cases {
            let p = place(input);
            assert_eq!((p.municipality, p.rest.as_str()), (municipality, rest), "{input}");
        }
        // 府中市 is in Tokyo and in Hiroshima: only the prefecture tells which.
        assert_eq!(place("府中市宮町1-1").municipality, None);
        assert_eq!(
            place("東京都府中市宮町1-1").municipality.map(|m| m.prefecture().name()),
            Some("東京都")
        );
    }
}
