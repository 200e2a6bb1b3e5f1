//! Synthetic residents for the demo, the network tools and the benchmarks: the `i`-th resident
//! of a town as the `synth` crate makes it (real surname frequencies, given names by sex, the
//! census age pyramid, households, addresses in the town's own 町名), always the same for the
//! same town and number.

use anyhow::Result;
use registry_domain::{ChangeReason, Date, IdentityRecordParts, MunicipalityCode, ResidentCode};

/// The seed every synthetic resident of the demo, the tools and the benchmarks is drawn with.
pub const SEED: u64 = 0x6a75_6b69;

/// The day ages are counted at: fixed, so a resident is the same whenever it is made, and in
/// the past, so every birth date precedes the changes that record it.
pub fn as_of() -> Date {
    Date::new(2025, 10, 1).unwrap_or_else(|_| unreachable!("a valid date"))
}

/// The generator of `town`'s synthetic residents.
pub fn generator(town: MunicipalityCode) -> Result<synth::Generator> {
    Ok(synth::Generator::new(town, SEED, as_of())?)
}

/// A synthetic resident's record: the `i`-th resident of `town`, under `code`, first recorded
/// by a change of `reason` on `date` (the birth date if none).
pub fn synthetic(
    code: ResidentCode,
    town: MunicipalityCode,
    i: u64,
    reason: ChangeReason,
    date: Option<Date>,
) -> Result<IdentityRecordParts> {
    Ok(generator(town)?.person(i)?.record(code, reason, date))
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
