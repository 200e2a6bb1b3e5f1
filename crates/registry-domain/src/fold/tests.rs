//! The folds, one rule per test, one case per line.

use super::address::kanji_number;
use super::*;

#[test]
fn kanji_table_is_sorted_and_one_step() {
    assert!(KANJI_VARIANTS.windows(2).all(|w| w[0].0 < w[1].0), "sorted, no duplicates");
    for &(variant, representative) in KANJI_VARIANTS {
        assert_ne!(variant, representative);
        assert_eq!(fold_kanji_char(representative), representative, "{representative} is final");
        assert!(!is_compatibility_ideograph(representative), "{representative} survives NFC");
    }
    // Every compatibility ideograph that NFC would replace is in the table.
    for c in ('\u{F900}'..='\u{FAFF}').chain('\u{2F800}'..='\u{2FA1F}') {
        let nfc: String = c.to_string().nfc().collect();
        if nfc != c.to_string() {
            assert_ne!(fold_kanji_char(c), c, "U+{:04X}", u32::from(c));
        }
    }
}

#[test]
fn required_kanji_pairs() {
    let pairs = [
        ("髙", "高"),
        ("﨑", "崎"),
        ("邊", "辺"),
        ("邉", "辺"),
        ("澤", "沢"),
        ("齋", "斎"),
        ("齊", "斉"),
        ("濱", "浜"),
        ("廣", "広"),
        ("國", "国"),
        ("櫻", "桜"),
        ("實", "実"),
        ("壽", "寿"),
        ("惠", "恵"),
        ("德", "徳"),
        ("眞", "真"),
        ("與", "与"),
        ("龍", "竜"),
        ("藏", "蔵"),
        ("條", "条"),
        ("嶋", "島"),
        ("嶌", "島"),
        ("冨", "富"),
        ("檜", "桧"),
        ("萬", "万"),
        ("彌", "弥"),
        ("淵", "渕"),
        ("瀨", "瀬"),
    ];
    for (old, new) in pairs {
        assert_eq!(fold_kanji(old), fold_kanji(new), "{old} {new}");
    }
    assert_eq!(fold_kanji("渡邊　髙志"), "渡辺　高志");
    assert_eq!(fold_kanji("斎藤"), "斎藤");
    assert_ne!(fold_for_match("齋藤"), fold_for_match("斉藤"));
}

#[test]
fn width() {
    let cases = [
        ("ＡＢＣ１２３", "ABC123"),
        ("ａ－ｂ", "a-b"),
        ("山田\u{3000}太郎", "山田 太郎"),
        ("ｶﾞｯｺｳ", "ガッコウ"),
        ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ"),
        ("ｳﾞｧ", "ヴァ"),
        ("ｰ･", "ー・"),
        ("ｱ\u{FF9E}", "ア\u{3099}"), // a voicing mark with nothing to combine stays combining
        ("漢字とかな", "漢字とかな"),
        ("①㈱", "①㈱"), // outside the width forms: unchanged
    ];
    for (input, want) in cases {
        assert_eq!(fold_width(input), want, "{input:?}");
    }
}

#[test]
fn kana() {
    assert_eq!(hiragana_to_katakana("やまだ たろう"), "ヤマダ タロウ");
    assert_eq!(hiragana_to_katakana("ぁゖゝゞ"), "ァヶヽヾ");
    assert_eq!(hiragana_to_katakana("カタカナ漢字abc"), "カタカナ漢字abc");
}

#[test]
fn name_keys() {
    let same = [
        ["髙橋　﨑子", "高橋崎子", "高橋 崎子", "髙橋﨑子"],
        ["ﾀｶﾊｼ ｻｷｺ", "たかはし さきこ", "タカハシ　サキコ", "タカハシ・サキコ"],
        ["渡邊", "渡邉", "渡辺", "渡\u{908A}\u{E0100}"],
        ["Smith John", "SMITH JOHN", "ＳＭＩＴＨ　ＪＯＨＮ", "smith john"],
        ["カ\u{3099}ク", "ガク", "がく", "ｶﾞｸ"],
    ];
    for group in same {
        let key = fold_for_match(group[0]);
        for s in group {
            assert_eq!(fold_for_match(s), key, "{s:?} vs {:?}", group[0]);
        }
    }
    assert_eq!(fold_for_match("髙橋　﨑子"), "高橋崎子");
    assert_eq!(fold_for_match("たかはし さきこ"), "タカハシサキコ");
    let different = [("キョウコ", "キヨウコ"), ("斎藤", "斉藤"), ("高橋", "高梁"), ("ユウ", "ユ")];
    for (a, b) in different {
        assert_ne!(fold_for_match(a), fold_for_match(b), "{a} vs {b}");
    }
}

#[test]
fn kanji_numbers() {
    let cases = [
        ("三", "3"),
        ("十", "10"),
        ("十一", "11"),
        ("二十", "20"),
        ("二十三", "23"),
        ("百", "100"),
        ("百五", "105"),
        ("三百五十", "350"),
        ("千二百三十四", "1234"),
        ("三〇五", "305"),
        ("一一", "11"),
        ("弐拾参", "23"),
    ];
    for (input, want) in cases {
        let run: Vec<char> = input.chars().collect();
        assert_eq!(kanji_number(&run), want, "{input}");
    }
}

#[test]
fn address_variants_fold_together() {
    let groups: &[(&str, &[&str])] = &[
        (
            "3-4-5",
            &[
                "三丁目4番5号",
                "3-4-5",
                "３丁目４－５",
                "三丁目四番地五",
                "三丁目四番五号",
                "3丁目4番地の5",
                "3丁目4番地5",
                "３－４－５",
                "3‐4‐5",
                "3ー4ー5",
                "3−4−5",
                "3―4―5",
                "3–4–5",
                "3の4の5",
                "三の四の五",
                "3-4-5 ",
                " 3 - 4 - 5",
                "03-04-05",
                "3丁目4-5",
            ],
        ),
        ("中央3-4-5", &["中央三丁目4番5号", "中央3-4-5", "中央３丁目４番地の５"]),
        ("23", &["二十三番地", "23番地", "２３"]),
        ("102-3", &["百二番地の三", "102-3", "百二番三号"]),
        ("智里中関123", &["大字智里字中関123番地", "智里中関123", "大字智里中関１２３"]),
        ("霞ケ関1-2-3", &["霞が関一丁目2番3号", "霞ヶ関1-2-3", "霞ケ関１－２－３"]),
        ("丸ノ内1-1", &["丸の内一丁目1番", "丸ノ内1-1"]),
        ("3ケ日", &["三ヶ日", "三ケ日", "三が日"]),
        ("1ノ宮2-3", &["一の宮二丁目3番", "一ノ宮2-3"]),
        ("4-5メゾン101", &["4番5号 メゾン101", "4-5メゾン101", "４番５号　メゾン１０１"]),
        ("コーポ沢101室", &["コーポ澤101号室", "コーポ沢101号室", "ｺｰﾎﾟ澤101号室"]),
        ("センター2-1", &["センター2-1", "センター二丁目1番"]),
        ("A棟101", &["A棟101", "a棟101", "Ａ棟１０１"]),
    ];
    for (key, variants) in groups {
        for v in *variants {
            assert_eq!(fold_address(v), *key, "{v:?}");
        }
    }
}

#[test]
fn different_addresses_stay_different() {
    let pairs = [
        ("3-4-5", "3-4-6"),
        ("3-4-5", "3-45"),
        ("3-4-5", "34-5"),
        ("3-4-5", "3-4"),
        ("三丁目", "四丁目"),
        ("中央3-4-5", "東3-4-5"),
        ("10-1", "1-1"),
        ("101", "1-1"),
    ];
    for (a, b) in pairs {
        assert_ne!(fold_address(a), fold_address(b), "{a} vs {b}");
    }
}

#[test]
fn keys_are_idempotent() {
    let samples = [
        "三丁目4番5号",
        "大字智里字中関123番地",
        "霞が関一丁目2番3号",
        "三ヶ日",
        "一の宮二丁目3番",
        "4番5号 メゾン101",
        "ｺｰﾎﾟ澤101号室",
        "髙橋　﨑子",
        "ﾀｶﾊｼ ｻｷｺ",
        "二十三番地の三",
        "0-0-0",
        "3‐の‐4",      // one pass gives 3の4, the next 3-4
        "カ \u{3099}", // dropping the space lets the mark compose
        "---",
        "",
    ];
    for s in samples {
        let a = fold_address(s);
        assert_eq!(fold_address(&a), a, "{s:?}");
        let m = fold_for_match(s);
        assert_eq!(fold_for_match(&m), m, "{s:?}");
    }
}

/// (input, folded key): width, kana, separators; kanji and compatibility ideographs kept.
#[test]
fn folded_level() {
    let cases = [
        ("ﾔﾏﾀﾞ　ﾀﾛｳ", "ヤマダタロウ"),
        ("やまだ たろう", "ヤマダタロウ"),
        ("ヤマダ・タロウ", "ヤマダタロウ"),
        ("スミス＝ジョーンズ", "スミスジョーンズ"),
        ("スミス=ジョーンズ", "スミスジョーンズ"),
        ("ｽﾐｽ･ｼﾞｮﾝ", "スミスジョン"),
        ("山田　太郎", "山田太郎"),
        ("山田 太郎", "山田太郎"),
        ("山田\u{3000}\u{3000}太郎", "山田太郎"),
        ("髙橋", "髙橋"),
        ("\u{FA19}田", "\u{FA19}田"),
        ("か\u{3099}く", "ガク"),
        ("smith john", "SMITHJOHN"),
        ("ＳＭＩＴＨ", "SMITH"),
    ];
    for (input, want) in cases {
        assert_eq!(fold_name(input), want, "{input:?}");
    }
}

/// (a, b): one key at the variant level.
#[test]
fn variant_level_merges() {
    let cases = [
        ("\u{FA19}田　一", "神田一"),
        ("﨑山", "崎山"),
        ("嵜山", "崎山"),
        ("髙橋", "高橋"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("澤田", "沢田"),
        ("齋藤", "斎藤"),
        ("齊藤", "斉藤"),
        ("櫻井", "桜井"),
        ("廣瀬", "広瀬"),
        ("濱田", "浜田"),
        ("嶋田", "島田"),
        ("嶌田", "島田"),
        ("岩渕", "岩淵"),
        ("𠮷田", "吉田"),
        ("冨田", "富田"),
        ("舘野", "館野"),
        ("峯岸", "峰岸"),
        ("曾根", "曽根"),
        ("龍之介", "竜之介"),
        ("國男", "国男"),
        ("惠子", "恵子"),
        ("眞理", "真理"),
        ("實", "実"),
        ("壽子", "寿子"),
        ("桧山", "檜山"),
        ("黑田", "黒田"),
        ("淸", "清"),
        ("斉\u{E0103}藤", "斉藤"),
        ("\u{908A}\u{E0100}見", "辺見"),
    ];
    for (a, b) in cases {
        assert_eq!(fold_for_match(a), fold_for_match(b), "{a} {b}");
        assert_ne!(fold_name(a), fold_name(b), "{a} {b} differ before the variant level");
    }
}

/// (a, b): different names stay different at the variant level.
#[test]
fn variant_level_keeps_apart() {
    let cases = [
        ("斎藤", "斉藤"),
        ("齋藤", "斉藤"),
        ("藤田", "籐田"),
        ("祐介", "佑介"),
        ("崎山", "埼山"),
        ("谷口", "穀口"),
        ("後藤", "后藤"),
        ("高橋", "高梁"),
        ("一万", "一卍"),
    ];
    for (a, b) in cases {
        assert_ne!(fold_for_match(a), fold_for_match(b), "{a} {b}");
    }
}

/// Groups of readings with one loose key, and the key.
#[test]
fn reading_keys() {
    let groups: &[(&str, &[&str])] = &[
        ("オノ", &["オオノ", "オーノ", "オウノ", "オノ", "おおの", "ｵｰﾉ"]),
        ("キヨコ", &["キョウコ", "キヨウコ", "キョーコ", "きょうこ", "ｷｮｳｺ"]),
        ("ユコ", &["ユウコ", "ユーコ", "ユコ"]),
        ("サト", &["サトウ", "サトー", "サトオ"]),
        ("ハツトリ", &["ハットリ", "ハツトリ"]),
        ("チジワ", &["チヂワ", "チジワ"]),
        ("ミズキ", &["ミヅキ", "ミズキ"]),
        ("バイオリン", &["ヴァイオリン", "バイオリン"]),
        ("ブイ", &["ヴイ"]),
        ("ケコ", &["ケイコ", "ケーコ"]),
        ("ササキ", &["ササキ", "サヽキ", "ささき"]),
        ("スズキ", &["スヾキ", "スズキ"]),
        ("ヤマダタロ", &["ヤマダ　タロウ", "ヤマダ・タロウ", "やまだ たろう"]),
        ("カオル", &["カヲル", "カオル"]),
        ("アイヌ", &["アイヌ"]),
        ("ク", &["ㇰ"]),
    ];
    for (key, readings) in groups {
        for r in *readings {
            assert_eq!(fold_reading(r), *key, "{r:?}");
        }
    }
    let different =
        [("サトウ", "サイトウ"), ("オノ", "オギノ"), ("ヨウコ", "ユウコ"), ("ケンジ", "ケイジ")];
    for (a, b) in different {
        assert_ne!(fold_reading(a), fold_reading(b), "{a} {b}");
    }
}

/// (key, the key up to the end of its first number).
#[test]
fn address_blocks() {
    let cases = [
        ("智里3-1メゾン101", "智里3-1"),
        ("智里3-1", "智里3-1"),
        ("中央3-4-5A棟101", "中央3-4-5"),
        ("智里", "智里"),
        ("", ""),
        ("3", "3"),
    ];
    for (key, want) in cases {
        assert_eq!(address_block(key), want, "{key:?}");
    }
    assert_eq!(address_block(&fold_address("大字智里三丁目1番地 メゾン阿智101号室")), "智里3-1");
}

/// (notation, YYYY-MM-DD).
#[test]
fn date_notations() {
    let cases = [
        ("1975-03-04", "1975-03-04"),
        ("1975/3/4", "1975-03-04"),
        ("1975.3.4", "1975-03-04"),
        ("19750304", "1975-03-04"),
        ("１９７５／０３／０４", "1975-03-04"),
        ("1975年3月4日", "1975-03-04"),
        (" 1975 年 3 月 4 日 ", "1975-03-04"),
        ("昭和50年3月4日", "1975-03-04"),
        ("昭和５０年３月４日", "1975-03-04"),
        ("昭和五十年三月四日", "1975-03-04"),
        ("S50.3.4", "1975-03-04"),
        ("s50/3/4", "1975-03-04"),
        ("S.50.3.4", "1975-03-04"),
        ("Ｓ５０．３．４", "1975-03-04"),
        ("昭50.3.4", "1975-03-04"),
        ("昭和64年1月7日", "1989-01-07"),
        ("平成元年1月8日", "1989-01-08"),
        ("H1.1.8", "1989-01-08"),
        ("h01.01.08", "1989-01-08"),
        ("平成31年4月30日", "2019-04-30"),
        ("令和元年5月1日", "2019-05-01"),
        ("R2.5.1", "2020-05-01"),
        ("令和2年5月1日", "2020-05-01"),
        ("大正15年12月24日", "1926-12-24"),
        ("T15.12.24", "1926-12-24"),
        ("明治45年7月29日", "1912-07-29"),
        ("M45.7.29", "1912-07-29"),
        ("2000-02-29", "2000-02-29"),
        ("1975-12-31", "1975-12-31"),
        ("1975/1/31", "1975-01-31"),
    ];
    for (input, want) in cases {
        assert_eq!(parse_date(input).map(|d| d.to_string()).as_deref(), Ok(want), "{input:?}");
    }
    use DateNotationError as E;
    let bad: &[(&str, E)] = &[
        ("", E::Empty),
        ("  ", E::Empty),
        ("1975", E::Notation),
        ("1975-03", E::Notation),
        ("75-3-4", E::Notation),
        ("X50.3.4", E::Notation),
        ("S0.3.4", E::Notation),
        ("1975-13-01", E::NoSuchDay),
        ("1975-02-30", E::NoSuchDay),
        ("19751301", E::NoSuchDay),
        ("昭和50年3月4日生", E::Notation),
        ("元999/1/1", E::Notation),
        ("S100.1.1", E::Notation),
        ("1975/268/4", E::NoSuchDay),
        ("1975/4/287", E::NoSuchDay),
        ("1975-03-04 12:00", E::Notation),
    ];
    for (input, want) in bad {
        assert_eq!(parse_date(input), Err(*want), "{input:?}");
    }
    assert!(!DateNotationError::Notation.to_string().contains("1975-03-05"));
}

/// (small or old kana, the kana it folds with in a reading): every entry of the tables.
#[test]
fn reading_kana_one_by_one() {
    let small = "ァアィイゥウェエォオッツャヤュユョヨヮワヵカヶケ\
                 ㇰクㇱシㇲスㇳトㇴヌㇵハㇶヒㇷフㇸヘㇹホㇺムㇻラㇼリㇽルㇾレㇿロ\
                 ヂジヅズヲオヰイヱエヷバヸビヹベヺボ";
    let chars: Vec<char> = small.chars().collect();
    for pair in chars.chunks(2) {
        let (from, to) = (pair[0].to_string(), pair[1].to_string());
        assert_eq!(fold_reading(&from), to, "{from}");
    }
    let cases = [
        ("ヴァ", "バ"),
        ("ヴィ", "ビ"),
        ("ヴ", "ブ"),
        ("ヴェ", "ベ"),
        ("ヴォ", "ボ"),
        ("アア", "ア"),
    ];
    for (from, to) in cases {
        assert_eq!(fold_reading(from), to, "{from}");
    }
}

/// (address, its key): the edges of the notation rules.
#[test]
fn address_key_edges() {
    let cases = [
        ("ひばりが丘1-2", "ひばりケ丘1-2"),
        ("ひばりヶ丘一丁目2番", "ひばりケ丘1-2"),
        ("丸のうち1", "丸のうち1"),
        ("原の3", "原の3"),
        ("智里0", "智里0"),
        ("0", "0"),
        ("007", "7"),
        ("3-0", "3-0"),
    ];
    for (address, key) in cases {
        assert_eq!(fold_address(address), key, "{address:?}");
    }
}
