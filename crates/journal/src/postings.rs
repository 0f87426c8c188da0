//! The double-entry lines of each commit (`jifen_core::books`), kept beside the journal so that
//! an export of a year reads them instead of replaying the year. Derived data, written with the
//! entries in the same transaction: one row per commit, covering its seqs even when it moved no
//! money, so a reader can tell a range is whole. Journals written before this have no rows; the
//! reader then replays.
//!
//! A row's data is, per line: the seq's offset from the row's first seq (LEB128), the command
//! type (one byte, its place in `jifen_wire::COMMANDS`), one byte holding the book (3 bits), the
//! reason (4 bits) and whether it is a credit (the top bit), the amount in fen (LEB128), and the
//! account's id + 1, or 0 (LEB128).

use jifen_core::books::{Book, Line, Why};

/// One commit's lines, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostingsRow {
    pub first_seq: u64,
    pub last_seq: u64,
    pub ts_ms: i64,
    pub data: Vec<u8>,
}

/// One line as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posting {
    pub seq: u64,
    /// The command's type, as `jifen_wire::COMMANDS` names it.
    pub kind: &'static str,
    pub line: Line,
}

pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn read_varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Appends the lines of entry `seq` (a command of type `kind`) to a row starting at `first_seq`.
pub fn encode(out: &mut Vec<u8>, first_seq: u64, seq: u64, kind: &str, lines: &[Line]) {
    let kind = jifen_wire::COMMANDS
        .iter()
        .position(|c| c.kind == kind)
        .unwrap_or(u8::MAX as usize) as u8;
    for l in lines {
        varint(out, seq - first_seq);
        out.push(kind);
        let credit = l.credit_fen > 0;
        out.push(l.book.to_u8() | (l.why.to_u8() << 3) | (u8::from(credit) << 7));
        varint(out, l.debit_fen.max(l.credit_fen));
        varint(out, l.account.map_or(0, |a| u64::from(a) + 1));
    }
}

/// A row as kept in the row of its commit's first journal block (SQLite, `sqlite_postings`):
/// `ts_ms i64 ‖ last_seq u64` (little-endian), then the lines; the first seq is the block's.
pub fn to_inline(row: &PostingsRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + row.data.len());
    out.extend_from_slice(&row.ts_ms.to_le_bytes());
    out.extend_from_slice(&row.last_seq.to_le_bytes());
    out.extend_from_slice(&row.data);
    out
}

/// The row kept inline with the block starting at `first_seq`; `None` when malformed.
pub fn from_inline(first_seq: u64, blob: &[u8]) -> Option<PostingsRow> {
    let ts_ms = i64::from_le_bytes(blob.get(..8)?.try_into().ok()?);
    let last_seq = u64::from_le_bytes(blob.get(8..16)?.try_into().ok()?);
    Some(PostingsRow {
        first_seq,
        last_seq,
        ts_ms,
        data: blob[16..].to_vec(),
    })
}

/// The lines of a row, in order; `None` when the data is not well formed.
pub fn decode(row: &PostingsRow) -> Option<Vec<Posting>> {
    let (data, mut at, mut out) = (&row.data[..], 0usize, Vec::new());
    while at < data.len() {
        let seq = row.first_seq + read_varint(data, &mut at)?;
        let kind = jifen_wire::COMMANDS.get(*data.get(at)? as usize)?.kind;
        let packed = *data.get(at + 1)?;
        at += 2;
        let book = Book::from_u8(packed & 0x07)?;
        let why = Why::from_u8((packed >> 3) & 0x0f)?;
        let fen = read_varint(data, &mut at)?;
        let account = read_varint(data, &mut at)?;
        let (debit_fen, credit_fen) = if packed & 0x80 != 0 {
            (0, fen)
        } else {
            (fen, 0)
        };
        let account = account.checked_sub(1).map(|a| a as u32);
        let line = Line {
            book,
            debit_fen,
            credit_fen,
            why,
            account,
        };
        out.push(Posting { seq, kind, line });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let lines = [
            Line {
                book: Book::Reserve,
                debit_fen: 1_000_000_000_000,
                credit_fen: 0,
                why: Why::Sale,
                account: Some(7),
            },
            Line {
                book: Book::FeeIncome,
                debit_fen: 0,
                credit_fen: 3,
                why: Why::Payout,
                account: None,
            },
        ];
        let mut data = Vec::new();
        encode(&mut data, 100, 100, "sell", &lines[..1]);
        encode(&mut data, 100, 350, "record_payout", &lines[1..]);
        let row = PostingsRow {
            first_seq: 100,
            last_seq: 400,
            ts_ms: 1,
            data,
        };
        assert_eq!(from_inline(100, &to_inline(&row)).as_ref(), Some(&row));
        assert_eq!(from_inline(100, &[1, 2, 3]), None);
        let back = decode(&row).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            (back[0].seq, back[0].kind, back[0].line),
            (100, "sell", lines[0])
        );
        assert_eq!(
            (back[1].seq, back[1].kind, back[1].line),
            (350, "record_payout", lines[1])
        );
    }
}
