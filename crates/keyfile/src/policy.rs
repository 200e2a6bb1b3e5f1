//! The rules a passphrase must meet before it seals a key, after NIST SP 800-63B (§ 3.1.1.2,
//! memorised secrets): long enough, and not a value attackers try first — a common or
//! breached password, one character or a short group repeated, a sequence such as `1234…`,
//! `abcd…` or a keyboard row, or one containing the name of the key it protects (its name, its
//! holder's handle, its municipality's code) or of the service. There are no composition rules
//! (a digit, a capital, a symbol), and no passphrase is ever too long.
//!
//! The blocklist is `data/common-passwords.txt`, compiled in; its header says where it comes
//! from. It holds only entries of [`MIN_PASSPHRASE_CHARS`] or more characters, since shorter
//! ones are refused anyway. Comparisons ignore case.
//!
//! Pure: no file, environment or random source; a refusal says which rule was broken and what
//! to do, never the passphrase or a part of it.

use std::collections::HashSet;
use std::sync::LazyLock;

use zeroize::Zeroizing;

/// The shortest passphrase accepted, in characters (NIST SP 800-63B asks for at least 8; keys
/// deserve more).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// The shortest word of a key's name that a passphrase must not contain (shorter words, such
/// as `op` or `ca`, would refuse too much).
pub const MIN_CONTEXT_WORD_CHARS: usize = 4;

/// The longest group of characters whose repetition is refused (`abababababab`,
/// `passpasspass`).
const MAX_REPEATED_GROUP: usize = 4;

/// The shortest run of consecutive characters counted as a sequence.
const MIN_RUN: usize = 3;

/// The service's own name, refused in every passphrase.
const SERVICE_WORDS: &[&str] = &["juki"];

/// Orders in which consecutive characters make a sequence, and whether the order wraps
/// around (`…7890123…`, `…xyzabc…`).
const ORDERS: &[(&str, bool)] = &[
    ("0123456789", true),
    ("abcdefghijklmnopqrstuvwxyz", true),
    ("qwertyuiopasdfghjklzxcvbnm", false),
];

/// The blocklist's file: comment lines up to the first empty line, then one entry a line.
const BLOCKLIST_FILE: &str = include_str!("../data/common-passwords.txt");

static BLOCKLIST: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let entries = BLOCKLIST_FILE.split_once("\n\n").map_or("", |(_, entries)| entries);
    entries.lines().filter(|l| !l.is_empty()).map(str::to_lowercase).collect()
});

/// Why a passphrase cannot seal a key. The messages never repeat the passphrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PassphraseError {
    /// Shorter than [`MIN_PASSPHRASE_CHARS`].
    #[error(
        "the passphrase is too short: use at least {min} characters (several unrelated words \
         make a good one)"
    )]
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// One character, or a group of up to four, repeated.
    #[error(
        "the passphrase repeats one character or a short group of characters: choose one that \
         does not (several unrelated words make a good one)"
    )]
    Repeated,
    /// A sequence: nothing but runs of consecutive digits, letters or keys of a keyboard row.
    #[error(
        "the passphrase is a sequence (such as 1234…, abcd… or a keyboard row): choose one \
         that is not (several unrelated words make a good one)"
    )]
    Sequential,
    /// On the list of common and breached passwords.
    #[error(
        "the passphrase is on the list of common and breached passwords: choose another \
         (several unrelated words make a good one)"
    )]
    Common,
    /// Contains the key's name, a word of it, or the service's name.
    #[error(
        "the passphrase contains the key's name or a word of it (such as a municipality code, \
         an operator's handle or the file's name) or the service's name: choose one that does \
         not"
    )]
    ContainsContext,
}

/// Checks `passphrase` against every rule. `context` holds what names the key — its name, its
/// holder's handle, its file's name: a passphrase containing one of them, or one of their
/// words of [`MIN_CONTEXT_WORD_CHARS`] or more letters and digits, is refused (as is one
/// containing the service's name), ignoring case.
pub fn check(passphrase: &str, context: &[&str]) -> Result<(), PassphraseError> {
    let lower = Zeroizing::new(passphrase.to_lowercase());
    let chars = Zeroizing::new(lower.chars().collect::<Vec<char>>());
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(PassphraseError::TooShort { min: MIN_PASSPHRASE_CHARS });
    }
    if repeated(&chars) {
        return Err(PassphraseError::Repeated);
    }
    if sequential(&chars) {
        return Err(PassphraseError::Sequential);
    }
    if BLOCKLIST.contains(lower.as_str()) || BLOCKLIST.contains(lower.trim()) {
        return Err(PassphraseError::Common);
    }
    if context_words(context).any(|word| lower.contains(word.as_str())) {
        return Err(PassphraseError::ContainsContext);
    }
    Ok(())
}

/// Whether `chars` is one group of at most [`MAX_REPEATED_GROUP`] characters repeated (the
/// last repetition may be cut short).
fn repeated(chars: &[char]) -> bool {
    (1..=MAX_REPEATED_GROUP).any(|group| {
        chars.len() > group && (group..chars.len()).all(|i| chars[i] == chars[i - group])
    })
}

/// The step from `a` to `b` in `order`: +1, -1, or none.
fn step(order: &(&str, bool), a: char, b: char) -> Option<i8> {
    let (letters, wraps) = *order;
    let len = letters.chars().count();
    let at = |c: char| letters.chars().position(|l| l == c);
    let (a, b) = (at(a)?, at(b)?);
    if b == a + 1 || (wraps && a == len - 1 && b == 0) {
        Some(1)
    } else if a == b + 1 || (wraps && b == len - 1 && a == 0) {
        Some(-1)
    } else {
        None
    }
}

/// Whether `chars` is nothing but runs of at least [`MIN_RUN`] consecutive characters of one
/// order each, going up or down (`123456789012`, `abcdefghijkl`, `1234abcd9876`,
/// `qwertyuiopas`). Each run is taken as long as it goes.
fn sequential(chars: &[char]) -> bool {
    let mut at = 0;
    while at < chars.len() {
        let mut longest = 1;
        for order in ORDERS {
            for direction in [1, -1] {
                let mut end = at + 1;
                while end < chars.len()
                    && step(order, chars[end - 1], chars[end]) == Some(direction)
                {
                    end += 1;
                }
                longest = longest.max(end - at);
            }
        }
        if longest < MIN_RUN {
            return false;
        }
        at += longest;
    }
    true
}

/// The lower-cased words a passphrase must not contain: each context string whole and its
/// words (split at anything but a letter or digit) of [`MIN_CONTEXT_WORD_CHARS`] or more
/// characters, and the service's name.
fn context_words<'a>(context: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    let long_enough = |word: &str| word.chars().count() >= MIN_CONTEXT_WORD_CHARS;
    context
        .iter()
        .flat_map(|text| std::iter::once(*text).chain(text.split(|c: char| !c.is_alphanumeric())))
        .chain(SERVICE_WORDS.iter().copied())
        .filter(move |word| long_enough(word))
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule, by example: (passphrase, context, expected outcome).
    const CASES: &[(&str, &[&str], Result<(), PassphraseError>)] = &[
        // Length: characters, not bytes.
        ("", &[], Err(PassphraseError::TooShort { min: 12 })),
        ("short", &[], Err(PassphraseError::TooShort { min: 12 })),
        ("elevenchars", &[], Err(PassphraseError::TooShort { min: 12 })),
        ("阿智村の桜が咲く春の日", &[], Err(PassphraseError::TooShort { min: 12 })),
        ("阿智村の桜が咲いた春の朝に", &[], Ok(())),
        ("ridge kettle ", &[], Ok(())),
        // One character or a short group repeated, whatever the case.
        ("aaaaaaaaaaaa", &[], Err(PassphraseError::Repeated)),
        ("AaAaAaAaAaAa", &[], Err(PassphraseError::Repeated)),
        ("            ", &[], Err(PassphraseError::Repeated)),
        ("111111111111111", &[], Err(PassphraseError::Repeated)),
        ("abababababab", &[], Err(PassphraseError::Repeated)),
        ("xyzxyzxyzxyzx", &[], Err(PassphraseError::Repeated)),
        ("passpasspass", &[], Err(PassphraseError::Repeated)),
        // A group of five repeated is not this rule's (nor, here, any other's).
        ("qxzvkqxzvkqxzvk", &[], Ok(())),
        // Sequences, up or down, wrapping around, in runs.
        ("123456789012", &[], Err(PassphraseError::Sequential)),
        ("abcdefghijkl", &[], Err(PassphraseError::Sequential)),
        ("ABCDEFGHIJKLM", &[], Err(PassphraseError::Sequential)),
        ("987654321098", &[], Err(PassphraseError::Sequential)),
        ("zyxwvutsrqpo", &[], Err(PassphraseError::Sequential)),
        ("uvwxyzabcdef", &[], Err(PassphraseError::Sequential)),
        ("qwertyuiopas", &[], Err(PassphraseError::Sequential)),
        ("1234abcd9876", &[], Err(PassphraseError::Sequential)),
        ("abc123xyz987", &[], Err(PassphraseError::Sequential)),
        // A run in the middle of other characters is no sequence.
        ("my 1234 quiet lantern", &[], Ok(())),
        ("abcd kettle moss", &[], Ok(())),
        // The blocklist, ignoring case (and surrounding blanks).
        ("passwordpassword", &[], Err(PassphraseError::Common)),
        ("PasswordPassword", &[], Err(PassphraseError::Common)),
        ("iloveyoubaby", &[], Err(PassphraseError::Common)),
        ("administrator", &[], Err(PassphraseError::Common)),
        ("1qaz2wsx3edc", &[], Err(PassphraseError::Common)),
        ("FinalFantasy ", &[], Err(PassphraseError::Common)),
        // The key's name and its words, the file's name, the service's name.
        (
            "tanaka's counter stamp",
            &["op.204072.juki.local/tanaka"],
            Err(PassphraseError::ContainsContext),
        ),
        (
            "TANAKA sealed her key",
            &["op.204072.juki.local/tanaka"],
            Err(PassphraseError::ContainsContext),
        ),
        (
            "village 204072 winter",
            &["admin.204072.juki.local"],
            Err(PassphraseError::ContainsContext),
        ),
        (
            "my admin passphrase",
            &["admin.204072.juki.local"],
            Err(PassphraseError::ContainsContext),
        ),
        ("supervisor's own words", &["supervisor"], Err(PassphraseError::ContainsContext)),
        ("juki keeps the registry", &[], Err(PassphraseError::ContainsContext)),
        ("Jukinet keeps records", &[], Err(PassphraseError::ContainsContext)),
        // Words shorter than four characters are not looked for.
        ("the opal ridge at dawn", &["op.204072.juki.local/tanaka"], Ok(())),
        ("a cable car at dusk", &["ca"], Ok(())),
        // Good passphrases.
        ("correct horse battery staple", &[], Ok(())),
        ("plum blossom at the counter", &["op.204072.juki.local/tanaka"], Ok(())),
        ("k7pq2-xmr4t-9vzhw-c3nd8", &["admin.204072.juki.local"], Ok(())),
        ("a long enough passphrase", &["juki.test/sealed", "sealed"], Ok(())),
    ];

    #[test]
    fn every_rule_by_example() {
        for (passphrase, context, expected) in CASES {
            assert_eq!(check(passphrase, context), *expected, "{passphrase:?} with {context:?}");
        }
    }

    #[test]
    fn the_blocklist_is_compiled_in_and_holds_only_long_entries() {
        assert!(BLOCKLIST.len() > 10_000, "{} entries", BLOCKLIST.len());
        assert!(BLOCKLIST.iter().all(|e| e.chars().count() >= MIN_PASSPHRASE_CHARS));
        assert!(BLOCKLIST.iter().all(|e| *e == e.to_lowercase() && e.trim() == e));
        assert!(!BLOCKLIST.iter().any(|e| e.starts_with("# ")), "no header line is an entry");
        // Every entry is refused, by the list or an earlier rule.
        for entry in BLOCKLIST.iter() {
            assert!(check(entry, &[]).is_err(), "an entry passed the check");
        }
    }

    #[test]
    fn every_refusal_says_what_was_wrong_and_what_to_do() {
        let refusals = [
            PassphraseError::TooShort { min: MIN_PASSPHRASE_CHARS },
            PassphraseError::Repeated,
            PassphraseError::Sequential,
            PassphraseError::Common,
            PassphraseError::ContainsContext,
        ];
        let messages: HashSet<String> = refusals.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), refusals.len(), "each refusal has its own message");
        for message in messages {
            assert!(message.starts_with("the passphrase "), "{message}");
            assert!(message.contains("choose") || message.contains("use at least"), "{message}");
        }
    }
}
