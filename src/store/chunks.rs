//! The byte layout of row chunks: many rows in one blob, each field a variable-length
//! integer, times as differences from the row before.
//!
//! Ten million sessions as one SQLite row each cost over 100 bytes a session and most of
//! an import's time; as chunks they cost about a tenth of that. Users and attribute values
//! are numbers into the `user_keys` and `attr_values` tables.

/// Rows per chunk: large enough that SQLite's per-row cost vanishes, small enough that a
/// chunk is a few hundred kilobytes.
pub const CHUNK_ROWS: usize = 1 << 15;

/// Appends fields to a chunk.
#[derive(Default)]
pub struct Encoder {
    pub bytes: Vec<u8>,
    pub rows: usize,
    last_time: i64,
    last_line: i64,
}

impl Encoder {
    pub fn unsigned(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    pub fn signed(&mut self, value: i64) {
        self.unsigned(((value << 1) ^ (value >> 63)) as u64);
    }

    /// A time, as the difference from the previous time of this chunk.
    pub fn time(&mut self, ms: i64) {
        self.signed(ms.wrapping_sub(self.last_time));
        self.last_time = ms;
    }

    /// A line number, as the difference from the previous line of this chunk.
    pub fn line(&mut self, line: i64) {
        self.signed(line.wrapping_sub(self.last_line));
        self.last_line = line;
    }

    /// An optional time after `from` (a session's end): 0 for none.
    pub fn end(&mut self, from: i64, end: Option<i64>) {
        match end {
            None => self.unsigned(0),
            Some(end) => {
                let delta = end.wrapping_sub(from);
                self.unsigned((((delta << 1) ^ (delta >> 63)) as u64).wrapping_add(1));
            }
        }
    }

    /// An optional number: 0 for none.
    pub fn optional(&mut self, value: Option<u32>) {
        self.unsigned(value.map_or(0, |v| u64::from(v) + 1));
    }

    /// Optional text: its length plus one (0 for none), then its bytes.
    pub fn text(&mut self, text: Option<&str>) {
        match text {
            None => self.unsigned(0),
            Some(t) => {
                self.unsigned(t.len() as u64 + 1);
                self.bytes.extend_from_slice(t.as_bytes());
            }
        }
    }

    /// Takes the finished chunk and starts a new one.
    pub fn take(&mut self) -> (usize, Vec<u8>) {
        let taken = (self.rows, std::mem::take(&mut self.bytes));
        *self = Self::default();
        taken
    }
}

/// A chunk whose bytes do not decode: the file was changed by something other than us.
#[derive(Debug)]
pub struct Corrupt;

/// Reads fields back in the order they were written.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    last_time: i64,
    last_line: i64,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            last_time: 0,
            last_line: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn unsigned(&mut self) -> Result<u64, Corrupt> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or(Corrupt)?;
            self.at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Corrupt)
    }

    pub fn signed(&mut self) -> Result<i64, Corrupt> {
        let v = self.unsigned()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub fn small(&mut self) -> Result<u32, Corrupt> {
        u32::try_from(self.unsigned()?).map_err(|_| Corrupt)
    }

    pub fn time(&mut self) -> Result<i64, Corrupt> {
        self.last_time = self.last_time.wrapping_add(self.signed()?);
        Ok(self.last_time)
    }

    pub fn line(&mut self) -> Result<i64, Corrupt> {
        self.last_line = self.last_line.wrapping_add(self.signed()?);
        Ok(self.last_line)
    }

    pub fn end(&mut self, from: i64) -> Result<Option<i64>, Corrupt> {
        match self.unsigned()? {
            0 => Ok(None),
            v => {
                let v = v - 1;
                let delta = ((v >> 1) as i64) ^ -((v & 1) as i64);
                Ok(Some(from.wrapping_add(delta)))
            }
        }
    }

    pub fn optional(&mut self) -> Result<Option<u32>, Corrupt> {
        match self.small()? {
            0 => Ok(None),
            v => Ok(Some(v - 1)),
        }
    }

    pub fn text(&mut self) -> Result<Option<&'a str>, Corrupt> {
        let len = match self.unsigned()? {
            0 => return Ok(None),
            n => usize::try_from(n - 1).map_err(|_| Corrupt)?,
        };
        let end = self.at.checked_add(len).ok_or(Corrupt)?;
        let bytes = self.bytes.get(self.at..end).ok_or(Corrupt)?;
        self.at = end;
        std::str::from_utf8(bytes).map(Some).map_err(|_| Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_as_written() {
        let mut e = Encoder::default();
        let times = [
            0,
            1_700_000_000_123,
            1_699_999_000_000,
            i64::MIN,
            i64::MAX,
            -5,
        ];
        for (i, &t) in times.iter().enumerate() {
            e.line(i as i64 * 3 + 2);
            e.time(t);
            e.end(
                t,
                if i % 2 == 0 {
                    None
                } else {
                    Some(t.wrapping_sub(7))
                },
            );
            e.optional(if i == 1 { None } else { Some(u32::MAX - 1) });
            e.text(match i {
                0 => None,
                1 => Some(""),
                _ => Some("évent"),
            });
            e.rows += 1;
        }
        let (rows, bytes) = e.take();
        assert_eq!(rows, times.len());

        let mut d = Decoder::new(&bytes);
        for (i, &t) in times.iter().enumerate() {
            assert_eq!(d.line().unwrap(), i as i64 * 3 + 2);
            assert_eq!(d.time().unwrap(), t);
            let end = if i % 2 == 0 {
                None
            } else {
                Some(t.wrapping_sub(7))
            };
            assert_eq!(d.end(t).unwrap(), end);
            let wanted = if i == 1 { None } else { Some(u32::MAX - 1) };
            assert_eq!(d.optional().unwrap(), wanted);
            let text = match i {
                0 => None,
                1 => Some(""),
                _ => Some("évent"),
            };
            assert_eq!(d.text().unwrap(), text);
        }
        assert!(d.is_done());
    }

    #[test]
    fn truncated_bytes_are_corrupt_not_a_panic() {
        let mut e = Encoder::default();
        e.text(Some("hello"));
        e.unsigned(u64::MAX);
        let (_, bytes) = e.take();
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(&bytes[..cut]);
            let read = d.text().and_then(|_| d.unsigned());
            assert!(read.is_err(), "cut at {cut}");
        }
    }
}
