//! The line-oriented framing that tlog-proof receipts and tlog-witness requests share: lines of
//! base64 proof hashes ended by an empty line, followed by a signed checkpoint.

use crate::hash::Hash;

/// The most proof lines either format allows.
pub const MAX_PROOF_LINES: usize = 63;

/// Splits off the next newline-terminated line, which must be UTF-8.
pub(crate) fn next_line(input: &[u8]) -> Option<(&str, &[u8])> {
    let end = input.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&input[..end]).ok()?;
    Some((line, &input[end + 1..]))
}

/// What is wrong with a block of proof lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofLinesError {
    /// The input ended before the empty line.
    Truncated,
    /// More than [`MAX_PROOF_LINES`] lines.
    TooMany,
    /// The (1-based) line is not a base64 hash.
    Invalid(usize),
}

/// Reads proof lines up to and including the empty line; returns them and what follows.
pub(crate) fn read_proof_lines(mut rest: &[u8]) -> Result<(Vec<Hash>, &[u8]), ProofLinesError> {
    let mut proof = Vec::new();
    loop {
        let (line, after) = next_line(rest).ok_or(ProofLinesError::Truncated)?;
        rest = after;
        if line.is_empty() {
            return Ok((proof, rest));
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(ProofLinesError::TooMany);
        }
        let hash =
            Hash::from_base64(line).map_err(|_| ProofLinesError::Invalid(proof.len() + 1))?;
        proof.push(hash);
    }
}

/// Writes proof lines and the empty line that ends them.
pub(crate) fn write_proof_lines(out: &mut Vec<u8>, proof: &[Hash]) {
    for hash in proof {
        out.extend_from_slice(hash.to_base64().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}
