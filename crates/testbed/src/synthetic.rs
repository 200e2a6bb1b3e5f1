//! Synthetic residents for the demo, the network tools and the benchmarks: a record's name,
//! reading, birth date, sex and address derived from a number.

use anyhow::Result;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};

const KANA: [&str; 20] = [
    "ア", "イ", "ウ", "エ", "オ", "カ", "キ", "ク", "ケ", "コ", "サ", "シ", "ス", "セ", "ソ", "タ",
    "チ", "ツ", "テ", "ト",
];
const KANJI: [&str; 20] = [
    "山", "田", "川", "中", "村", "木", "林", "森", "本", "井", "石", "松", "竹", "原", "野", "上",
    "下", "小", "大", "高",
];

/// A synthetic resident's record: name, reading, birth date and sex from a number.
pub fn synthetic(
    code: ResidentCode,
    town: MunicipalityCode,
    i: u64,
    reason: ChangeReason,
    date: Option<Date>,
) -> Result<IdentityRecordParts> {
    let d = |k: u32| (i / 20u64.pow(k) % 20) as usize;
    let reading = format!(
        "{}{}{}\u{3000}{}{}{}",
        KANA[d(0)],
        KANA[d(1)],
        KANA[d(2)],
        KANA[d(3)],
        KANA[d(4)],
        KANA[(d(0) + d(5)) % 20]
    );
    let name = format!("{}{} {}{}", KANJI[d(0)], KANJI[d(1)], KANJI[d(2)], KANJI[d(3)]);
    let born = Date::new(1935 + (i % 88) as u16, 1 + (i % 12) as u8, 1 + (i % 28) as u8)?;
    Ok(IdentityRecordParts {
        resident_code: code,
        name: Name::new(PersonName::new(&name)?, NameReading::new(&reading)?, None),
        birth_date: born,
        sex: Sex::from_code(1 + (i % 2) as u8)?,
        address: Address::new(town, &format!("{}番地{}", 1 + i % 3000, 1 + i % 7))?,
        individual_number: None,
        latest_change: ChangeInfo::new(reason, date.unwrap_or(born)),
        history_number: HistoryNumber::new(1)?,
        status: RecordStatus::Active,
    })
}

/// A change recording `record` in `town`, stamped by the system clock.
pub fn change(town: MunicipalityCode, record: IdentityRecordParts) -> registry_core::event::Change {
    client::office::change(town, record, now())
}

/// The next snapshot of `current` for a change of `reason` on `date`.
pub fn next(
    current: &IdentityRecordParts,
    reason: ChangeReason,
    date: Date,
) -> Result<IdentityRecordParts> {
    current
        .next_snapshot(reason, date)
        .ok_or_else(|| anyhow::anyhow!("the record's history is full"))
}

/// The system clock as events write it.
pub fn now() -> registry_core::time::Timestamp {
    use node::clock::Clock as _;
    node::clock::SystemClock.timestamp()
}

/// Today by the system clock (UTC).
pub fn today() -> Result<Date> {
    Ok(Date::parse(&now().date_text())?)
}
