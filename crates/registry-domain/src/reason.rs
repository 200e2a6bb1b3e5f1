//! 異動事由 (reasons for change), after 住民記録システム標準仕様書 第1.0版 §1.2.2.
//!
//! The standard classifies reasons in three families: 記載 (entry: a record is created), 消除
//! (deletion: a record is closed) and 修正 (correction: an active record changes)
//! (`reference/jukinet.md` §2.5). juki keeps the reasons that change a 本人確認情報 item — 氏名
//! (with 旧氏), 生年月日, 性別, 住所, 住民票コード, 個人番号 — and leaves out those that do
//! not reach it: 改製 and 再製 (the register is re-made, no item changes), the 世帯 reasons
//! (世帯分離, 世帯合併, 世帯変更, 世帯主変更: the household is not an identity item) and 通称
//! (not recorded by juki). The standard forbids a separate 「転居取消」; a mistaken 転居 is undone
//! by 異動の取消し（修正）, as here.
//!
//! `name-change` is juki's own: the standard has no 氏名変更 reason, because a change of name
//! (marriage, adoption, a 家庭裁判所 permission) reaches the 住民票 by notice from the 戸籍
//! office and is recorded as a 職権修正. juki names it so that the rules can limit it to the
//! name fields; being a kind of 職権修正, it takes two operators.
//!
//! Each reason has a stable ASCII code used in signed change events; `Display` prints it and
//! `FromStr` parses it.

use std::fmt;
use std::str::FromStr;

/// The three families of reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReasonFamily {
    /// 記載: a record is entered (the person becomes a resident of the town).
    Entry,
    /// 消除: a record is closed (the person stops being a resident of the town).
    Deletion,
    /// 修正: an active record changes.
    Correction,
}

impl ReasonFamily {
    /// 記載, 消除 or 修正.
    pub fn label(self) -> &'static str {
        match self {
            ReasonFamily::Entry => "記載",
            ReasonFamily::Deletion => "消除",
            ReasonFamily::Correction => "修正",
        }
    }
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $label:literal, $family:ident, $two:literal;)*) => {
        /// A reason for change (異動事由).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ChangeReason {
            $($(#[$doc])* $variant,)*
        }

        impl ChangeReason {
            /// Every reason, entries first, then deletions, then corrections.
            pub const ALL: &[ChangeReason] = &[$(ChangeReason::$variant),*];

            /// The stable ASCII code, e.g. `move-within`.
            pub fn code(self) -> &'static str {
                match self { $(ChangeReason::$variant => $code,)* }
            }

            /// The Japanese label, as the standard names the reason, e.g. 転居.
            pub fn label(self) -> &'static str {
                match self { $(ChangeReason::$variant => $label,)* }
            }

            /// 記載, 消除 or 修正.
            pub fn family(self) -> ReasonFamily {
                match self { $(ChangeReason::$variant => ReasonFamily::$family,)* }
            }

            /// Whether a change for this reason must be signed by two different operators:
            /// every kind of 消除, death, 職権修正 (and its kinds: 軽微な修正, a name change, the
            /// ex-officio 個人番号 reasons), 誤記修正, resident-code and 個人番号 changes, and
            /// every cancellation.
            pub fn needs_two_operators(self) -> bool {
                match self { $(ChangeReason::$variant => $two,)* }
            }
        }
    };
}

reasons! {
    // 記載 (entry)
    /// 出生: a birth.
    Birth = "birth", "出生", Entry, false;
    /// 国内転入: moving in from another municipality in Japan.
    MoveIn = "move-in", "国内転入", Entry, false;
    /// 国外転入等: moving in from abroad (and the like).
    MoveInFromAbroad = "move-in-from-abroad", "国外転入等", Entry, false;
    /// 職権記載: entered by the mayor's authority (e.g. a resident who never notified).
    ExOfficioEntry = "ex-officio-entry", "職権記載", Entry, false;
    /// 職権記載（帰化等）: entered on naturalisation and the like (Japanese residents).
    ExOfficioEntryNaturalisation = "ex-officio-entry-naturalisation", "職権記載（帰化等）", Entry, false;
    /// 職権記載（国籍喪失）: entered on loss of Japanese nationality (foreign residents).
    ExOfficioEntryNationalityLoss = "ex-officio-entry-nationality-loss", "職権記載（国籍喪失）", Entry, false;
    /// 異動の取消し（増）: a cancellation that restores a record (it undoes a deletion).
    CancellationEntry = "cancellation-entry", "異動の取消し（増）", Entry, true;

    // 消除 (deletion)
    /// 国内転出: moving out to another municipality in Japan.
    MoveOut = "move-out", "国内転出", Deletion, true;
    /// 国外転出: moving abroad.
    MoveOutAbroad = "move-out-abroad", "国外転出", Deletion, true;
    /// 死亡: death.
    Death = "death", "死亡", Deletion, true;
    /// 職権消除: deleted by the mayor's authority (e.g. found not to live there).
    ExOfficioDeletion = "ex-officio-deletion", "職権消除", Deletion, true;
    /// 職権消除（帰化等）: deleted on naturalisation and the like (foreign residents).
    ExOfficioDeletionNaturalisation = "ex-officio-deletion-naturalisation", "職権消除（帰化等）", Deletion, true;
    /// 職権消除（国籍喪失）: deleted on loss of Japanese nationality (Japanese residents).
    ExOfficioDeletionNationalityLoss = "ex-officio-deletion-nationality-loss", "職権消除（国籍喪失）", Deletion, true;
    /// 異動の取消し（減）: a cancellation that removes a record (it undoes an entry).
    CancellationDeletion = "cancellation-deletion", "異動の取消し（減）", Deletion, true;

    // 修正 (correction)
    /// 転居: a move within the municipality.
    MoveWithin = "move-within", "転居", Correction, false;
    /// 氏名の変更: a change of name notified by the 戸籍 office (juki's own reason; in the
    /// standard, a 職権修正).
    NameChange = "name-change", "氏名の変更", Correction, true;
    /// 軽微な修正: a minor correction (a kind of 職権修正, e.g. an address renamed by 住居表示).
    MinorCorrection = "minor-correction", "軽微な修正", Correction, true;
    /// 職権修正: a correction by the mayor's authority.
    ExOfficioCorrection = "ex-officio-correction", "職権修正", Correction, true;
    /// 誤記修正: correction of a clerical error.
    ClericalCorrection = "clerical-correction", "誤記修正", Correction, true;
    /// 個人番号の変更請求: a new 個人番号 at the resident's request.
    IndividualNumberChange = "individual-number-change", "個人番号の変更請求", Correction, true;
    /// 個人番号の職権修正: the 個人番号 corrected by the mayor's authority.
    IndividualNumberExOfficioCorrection = "individual-number-ex-officio-correction", "個人番号の職権修正", Correction, true;
    /// 個人番号の職権記載: a 個人番号 entered by the mayor's authority.
    IndividualNumberExOfficioEntry = "individual-number-ex-officio-entry", "個人番号の職権記載", Correction, true;
    /// 住民票コードの変更請求: a new 住民票コード at the resident's request.
    ResidentCodeChange = "resident-code-change", "住民票コードの変更請求", Correction, true;
    /// 住民票コードの職権記載: a 住民票コード entered by the mayor's authority.
    ResidentCodeExOfficioEntry = "resident-code-ex-officio-entry", "住民票コードの職権記載", Correction, true;
    /// 旧氏の記載: a former surname recorded at the resident's request.
    FormerSurnameEntry = "former-surname-entry", "旧氏の記載", Correction, false;
    /// 旧氏の変更: the recorded former surname changed.
    FormerSurnameChange = "former-surname-change", "旧氏の変更", Correction, false;
    /// 旧氏の削除: the recorded former surname removed.
    FormerSurnameDeletion = "former-surname-deletion", "旧氏の削除", Correction, false;
    /// 異動の取消し（修正）: a cancellation that undoes a correction.
    CancellationCorrection = "cancellation-correction", "異動の取消し（修正）", Correction, true;
}

impl ChangeReason {
    /// Whether this reason is a cancellation (異動の取消し) of an earlier change.
    pub fn is_cancellation(self) -> bool {
        matches!(
            self,
            ChangeReason::CancellationEntry
                | ChangeReason::CancellationDeletion
                | ChangeReason::CancellationCorrection
        )
    }
}

/// The code is not one of juki's reasons. The text given is not repeated (it may be anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown reason for change; use a code such as birth, move-in, move-out, move-within, death, ex-officio-correction or cancellation-correction"
)]
pub struct ChangeReasonError;

impl fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for ChangeReason {
    type Err = ChangeReasonError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChangeReason::ALL.iter().copied().find(|r| r.code() == s).ok_or(ChangeReasonError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeReason as R;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut codes = std::collections::HashSet::new();
        let mut labels = std::collections::HashSet::new();
        for &r in ChangeReason::ALL {
            assert_eq!(r.to_string().parse::<ChangeReason>(), Ok(r));
            assert!(codes.insert(r.code()), "duplicate code {}", r.code());
            assert!(labels.insert(r.label()), "duplicate label {}", r.label());
            assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", r.code());
        }
        assert_eq!(ChangeReason::ALL.len(), 28);
        for bad in ["", "Birth", "BIRTH", " birth", "birth ", "出生", "cancellation", "move_in"] {
            assert_eq!(bad.parse::<ChangeReason>(), Err(ChangeReasonError), "{bad:?}");
        }
    }

    #[test]
    fn families_follow_the_standard() {
        let entries = [
            R::Birth,
            R::MoveIn,
            R::MoveInFromAbroad,
            R::ExOfficioEntry,
            R::ExOfficioEntryNaturalisation,
            R::ExOfficioEntryNationalityLoss,
            R::CancellationEntry,
        ];
        let deletions = [
            R::MoveOut,
            R::MoveOutAbroad,
            R::Death,
            R::ExOfficioDeletion,
            R::ExOfficioDeletionNaturalisation,
            R::ExOfficioDeletionNationalityLoss,
            R::CancellationDeletion,
        ];
        for r in entries {
            assert_eq!(r.family(), ReasonFamily::Entry, "{r}");
        }
        for r in deletions {
            assert_eq!(r.family(), ReasonFamily::Deletion, "{r}");
        }
        let corrections =
            ChangeReason::ALL.iter().filter(|r| r.family() == ReasonFamily::Correction);
        assert_eq!(corrections.count(), ChangeReason::ALL.len() - entries.len() - deletions.len());
        assert_eq!(
            [ReasonFamily::Entry, ReasonFamily::Deletion, ReasonFamily::Correction]
                .map(|f| f.label()),
            ["記載", "消除", "修正"]
        );
    }

    #[test]
    fn two_operator_rule() {
        // The issue: every kind of 消除, death, 職権修正, 誤記修正, resident-code changes and
        // cancellations.
        for &r in ChangeReason::ALL {
            if r.family() == ReasonFamily::Deletion || r.is_cancellation() {
                assert!(r.needs_two_operators(), "{r}");
            }
        }
        for r in [
            R::Death,
            R::ExOfficioCorrection,
            R::ClericalCorrection,
            R::ResidentCodeChange,
            R::ResidentCodeExOfficioEntry,
            R::CancellationEntry,
            R::CancellationDeletion,
            R::CancellationCorrection,
            R::MinorCorrection,
            R::NameChange,
            R::IndividualNumberChange,
            R::IndividualNumberExOfficioCorrection,
            R::IndividualNumberExOfficioEntry,
        ] {
            assert!(r.needs_two_operators(), "{r}");
        }
        for r in [
            R::Birth,
            R::MoveIn,
            R::MoveInFromAbroad,
            R::ExOfficioEntry,
            R::MoveWithin,
            R::FormerSurnameEntry,
            R::FormerSurnameChange,
            R::FormerSurnameDeletion,
        ] {
            assert!(!r.needs_two_operators(), "{r}");
        }
    }

    #[test]
    fn labels() {
        let cases = [
            (R::Birth, "birth", "出生"),
            (R::MoveIn, "move-in", "国内転入"),
            (R::MoveOut, "move-out", "国内転出"),
            (R::MoveWithin, "move-within", "転居"),
            (R::Death, "death", "死亡"),
            (R::ExOfficioEntry, "ex-officio-entry", "職権記載"),
            (R::ExOfficioDeletion, "ex-officio-deletion", "職権消除"),
            (R::ExOfficioCorrection, "ex-officio-correction", "職権修正"),
            (R::ClericalCorrection, "clerical-correction", "誤記修正"),
            (R::ResidentCodeChange, "resident-code-change", "住民票コードの変更請求"),
            (R::CancellationCorrection, "cancellation-correction", "異動の取消し（修正）"),
        ];
        for (r, code, label) in cases {
            assert_eq!((r.code(), r.label()), (code, label));
        }
    }
}
