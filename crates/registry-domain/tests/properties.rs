//! Properties over generated input: every parser refuses garbage without panicking, accepts
//! the canonical form it prints, and the matching keys are idempotent.

use proptest::prelude::*;
use registry_domain::fold::{fold_address, fold_for_match, fold_name, fold_reading, parse_date};
use registry_domain::{
    Address, ChangeReason, Date, IndividualNumber, MunicipalityCode, NameReading, PersonName,
    ResidentCode,
};

/// Characters that exercise the folds: digits in three widths, kanji numerals, address
/// markers, hyphens, spaces, kana in all forms, combining marks, old kanji, Latin letters.
fn japanese_text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "0123456789０１２３４５６７８９〇一二三四五六七八九十百千壱弐参拾\
         丁目番地号のノーｰ-‐－―−字大中央霞が関ヶケ宮日町 　\t・\u{3099}\u{309A}\u{FF9E}\
         かきがぎカキガギｶｷﾞﾊﾟはぱ髙﨑澤邊齋龍高崎沢辺斎竜aAzZ\u{E0100}\u{301}\
         アイウエオァィゥェォッャュョヮヵヶーヽヾヴヂヅヲヰヱワｳｰぁゔ＝=ㇰ\u{FA19}神"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn match_keys_are_idempotent(s in japanese_text()) {
        let key = fold_for_match(&s);
        prop_assert_eq!(fold_for_match(&key), key.clone());
        let key = fold_address(&s);
        prop_assert_eq!(fold_address(&key), key);
        let key = fold_name(&s);
        prop_assert_eq!(fold_name(&key), key);
        let key = fold_reading(&s);
        prop_assert_eq!(fold_reading(&key), key);
    }

    #[test]
    fn stored_text_is_kept_as_given(s in "[\u{F900}-\u{FA6D}\u{3041}-\u{30FA}\u{3099}\u{4E00}-\u{4E20}]{1,12}") {
        // No normalisation on storage: what a register holds comes back unchanged.
        let name = PersonName::new(&s).unwrap();
        prop_assert_eq!(name.as_str(), s.as_str());
    }

    #[test]
    fn address_keys_ignore_width_and_spaces(a in 1u32..300, b in 1u32..100, c in 1u32..100) {
        let ascii = format!("{a}-{b}-{c}");
        let wide: String = format!("{a}丁目{b}番{c}号")
            .chars()
            .map(|ch| if ch.is_ascii_digit() { char::from_u32(u32::from(ch) + 0xFEE0).unwrap() } else { ch })
            .collect();
        prop_assert_eq!(fold_address(&wide), fold_address(&ascii));
        prop_assert_eq!(fold_address(&format!(" {a} の {b} の {c} ")), ascii);
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,16}") {
        let _ = MunicipalityCode::parse(&s);
        let _ = ResidentCode::parse(&s);
        let _ = IndividualNumber::parse(&s);
        let _ = Date::parse(&s);
        let _ = s.parse::<ChangeReason>();
        let _ = PersonName::new(&s);
        let _ = NameReading::new(&s);
        let _ = parse_date(&s);
    }

    #[test]
    fn digit_strings(s in "[0-9]{6,12}") {
        // Whatever the length, a parser either refuses or round-trips exactly.
        if let Ok(m) = MunicipalityCode::parse(&s) { prop_assert_eq!(m.to_string(), s.clone()); }
        if let Ok(r) = ResidentCode::parse(&s) { prop_assert_eq!(r.to_string(), s.clone()); }
        if let Ok(n) = IndividualNumber::parse(&s) { prop_assert_eq!(n.to_string(), s.clone()); }
    }

    #[test]
    fn resident_codes_round_trip(ten in 0u64..10_000_000_000) {
        let code = ResidentCode::from_ten_digits(ten).unwrap();
        let text = code.to_string();
        prop_assert_eq!(text.len(), 11);
        prop_assert_eq!(ResidentCode::parse(&text), Ok(code));
        prop_assert_eq!(code.ten_digits(), ten);
    }

    #[test]
    fn individual_numbers_round_trip(eleven in 0u64..100_000_000_000) {
        let n = IndividualNumber::from_eleven_digits(eleven).unwrap();
        let text = n.to_string();
        prop_assert_eq!(text.len(), 12);
        prop_assert_eq!(IndividualNumber::parse(&text), Ok(n));
    }

    #[test]
    fn dates_round_trip(y in 1u16..=9999, m in 1u8..=12, d in 1u8..=31) {
        if let Ok(date) = Date::new(y, m, d) {
            prop_assert_eq!(Date::parse(&date.to_string()), Ok(date));
            if y >= 1868 {
                let w = date.wareki().unwrap();
                let suffix = format!("年{m}月{d}日");
                prop_assert!(w.to_string().ends_with(&suffix));
            } else {
                prop_assert!(date.wareki().is_err());
            }
        }
    }

    #[test]
    fn names_and_addresses_are_stored_canonically(s in japanese_text()) {
        if let Ok(name) = PersonName::new(&s) {
            prop_assert_eq!(PersonName::new(name.as_str()), Ok(name.clone()));
        }
        if let Ok(reading) = NameReading::new(&s) {
            prop_assert_eq!(NameReading::new(reading.as_str()), Ok(reading.clone()));
        }
        let achi = MunicipalityCode::parse("204072").unwrap();
        if let Ok(address) = Address::new(achi, &s) {
            prop_assert_eq!(Address::new(achi, address.rest()), Ok(address.clone()));
        }
    }
}
