//! How far replay has read a file, as stored in the store's `positions` table (file path →
//! position string).
//!
//! A file is a sequence of top-level JSON values (a record, an envelope of records, an
//! array); one value can yield several records or errors. So a position is the byte offset
//! and line of a top-level value plus how many of the items it yielded were already
//! applied: `offset=1234,line=5,items=2`. `done` means the whole file was applied. Offsets
//! are in the decompressed stream; for a plain file replay seeks straight to the offset,
//! for a gzip file it decodes from the start and skips what was already applied.

use std::fmt;
use std::str::FromStr;

/// A file's replay position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Every item of the file was applied.
    Done,
    /// Items before the value at `offset`, and the first `items` items of that value,
    /// were applied.
    At { offset: u64, line: u64, items: u64 },
}

impl Position {
    /// The start of a file.
    pub const START: Position = Position::At {
        offset: 0,
        line: 1,
        items: 0,
    };

    /// Whether the `index`-th item (0-based) of the value at `offset` was applied.
    pub fn covers(self, offset: u64, index: u64) -> bool {
        match self {
            Position::Done => true,
            Position::At {
                offset: o,
                items: n,
                ..
            } => offset < o || (offset == o && index < n),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Done => f.write_str("done"),
            Position::At {
                offset,
                line,
                items,
            } => write!(f, "offset={offset},line={line},items={items}"),
        }
    }
}

impl FromStr for Position {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "done" {
            return Ok(Position::Done);
        }
        let bad = || format!("unreadable replay position {s:?}");
        let mut fields = [None; 3];
        for part in s.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let slot = match key {
                "offset" => 0,
                "line" => 1,
                "items" => 2,
                _ => return Err(bad()),
            };
            fields[slot] = Some(value.parse::<u64>().map_err(|_| bad())?);
        }
        match fields {
            [Some(offset), Some(line), Some(items)] if line >= 1 => Ok(Position::At {
                offset,
                line,
                items,
            }),
            _ => Err(bad()),
        }
    }
}

/// Follows the items of one file as they are decoded, to know the position after each.
#[derive(Debug, Clone, Copy)]
pub struct Tracker {
    offset: Option<u64>,
    line: u64,
    items: u64,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            offset: None,
            line: 1,
            items: 0,
        }
    }

    /// Registers an item of the value at `offset` (`line`); returns its index within the
    /// value. Items without an offset belong to the value before them.
    pub fn next(&mut self, offset: Option<u64>, line: Option<u64>) -> (u64, u64) {
        if let Some(o) = offset {
            if self.offset != Some(o) {
                self.offset = Some(o);
                self.line = line.unwrap_or(self.line);
                self.items = 0;
            }
        }
        let index = self.items;
        self.items += 1;
        (self.offset.unwrap_or(0), index)
    }

    /// The position once every item registered so far is applied.
    pub fn position(&self) -> Position {
        match self.offset {
            None => Position::START,
            Some(offset) => Position::At {
                offset,
                line: self.line,
                items: self.items,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        for p in [
            Position::Done,
            Position::START,
            Position::At {
                offset: 123,
                line: 7,
                items: 2,
            },
        ] {
            assert_eq!(p.to_string().parse::<Position>().unwrap(), p);
        }
        for bad in [
            "",
            "offset=1",
            "offset=1,line=0,items=0",
            "x=1,line=1,items=1",
            "1:2:3",
        ] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tracks_items_within_values() {
        let mut t = Tracker::new();
        assert_eq!(t.position(), Position::START);
        assert_eq!(t.next(Some(0), Some(1)), (0, 0));
        assert_eq!(t.next(Some(0), Some(1)), (0, 1));
        assert_eq!(t.next(Some(50), Some(2)), (50, 0));
        let p = t.position();
        assert_eq!(
            p,
            Position::At {
                offset: 50,
                line: 2,
                items: 1
            }
        );
        assert!(p.covers(0, 5) && p.covers(50, 0));
        assert!(!p.covers(50, 1) && !p.covers(51, 0));
    }
}
