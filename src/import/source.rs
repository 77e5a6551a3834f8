//! Opens an input file and yields its records as text fields with their line numbers:
//! CSV (delimiter detected), or JSON lines flattened to dotted column names; plain or
//! gzip-compressed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::model::Rejection;

/// How many JSON lines are read ahead to learn the column names.
const JSON_SCAN_LINES: usize = 1000;

/// The container format of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv { delimiter: u8 },
    JsonLines,
}

impl Format {
    pub fn describe(self) -> String {
        match self {
            Self::Csv { delimiter: b'\t' } => "CSV (tab)".to_owned(),
            Self::Csv { delimiter } => format!("CSV ({})", char::from(delimiter)),
            Self::JsonLines => "JSON lines".to_owned(),
        }
    }
}

/// One data row: where it started in the file and its fields as text (one buffer for
/// all fields, reused from row to row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub line: u64,
    pub fields: csv::StringRecord,
}

/// A problem that stops reading the file altogether.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("the file is empty")]
    Empty,
    /// Reading stopped in the middle: a compressed file cut short, a damaged disk.
    #[error("the file ends early or is damaged{} ({cause})", after_line(*.last_line))]
    Broken { last_line: u64, cause: String },
}

fn after_line(line: u64) -> String {
    if line > 1 {
        format!(" after line {line}")
    } else {
        String::new()
    }
}

/// An open input: its columns, and its records one at a time.
pub struct Source {
    pub columns: Vec<String>,
    pub format: Format,
    pub compressed: bool,
    records: Records,
    /// The record last read; its fields' buffers are reused for the next one.
    current: Record,
    /// Bytes of the file on disk read so far, for progress.
    bytes_read: Arc<AtomicU64>,
}

enum Records {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        /// Added to the csv crate's line numbers: with CRLF endings it reports a record
        /// one line early (it stands between the `\r` and the `\n`), and users look
        /// for the line their editor shows.
        line_offset: u64,
        delimiter: u8,
    },
    Json {
        lines: io::Lines<Box<dyn BufRead + Send>>,
        line: u64,
        ahead: VecDeque<JsonLine>,
    },
}

/// A JSON line read ahead: its line number and either its flattened fields or the error.
type JsonLine = (u64, Result<Vec<(String, String)>, String>);

impl Source {
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path)?;
        let bytes_read = Arc::new(AtomicU64::new(0));
        let counted = CountingReader {
            inner: file,
            count: Arc::clone(&bytes_read),
        };
        let mut raw = BufReader::with_capacity(1 << 16, counted);
        let compressed = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn Read + Send> = if compressed {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let mut reader: Box<dyn BufRead + Send> =
            Box::new(BufReader::with_capacity(1 << 16, inner));

        let head = reader.fill_buf()?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            reader.consume(3);
        }
        let head = reader.fill_buf()?.to_vec();
        let first_char = head.iter().find(|b| !b.is_ascii_whitespace());
        let format = match first_char {
            None => return Err(SourceError::Empty),
            Some(b'{') if looks_like_json(&head) => Format::JsonLines,
            Some(_) => Format::Csv {
                delimiter: detect_delimiter(&head),
            },
        };

        let (columns, records) = match format {
            Format::Csv { delimiter } => open_csv(reader, delimiter, ends_with_crlf(&head))?,
            Format::JsonLines => open_json(reader)?,
        };
        log::debug!(
            "{}: {} with {} columns",
            path.display(),
            format.describe(),
            columns.len()
        );
        Ok(Self {
            columns,
            format,
            compressed,
            records,
            current: Record::default(),
            bytes_read,
        })
    }

    /// The count behind `bytes_read`, for a thread that watches another read.
    pub fn bytes_read_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes_read)
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// The next record; a row that cannot be read is a rejection, the end is `None`.
    /// The record is lent until the next call, which reuses its buffers.
    pub fn next_record(&mut self) -> Option<Result<Result<&Record, Rejection>, SourceError>> {
        let mut current = std::mem::take(&mut self.current);
        let read = self.read_into(&mut current);
        self.current = current;
        read.map(|r| r.map(|r| r.map(|()| &self.current)))
    }

    /// Reads the next record into `into`, reusing its buffer: what `next_record` does,
    /// for a caller that keeps records of its own (the import's batches).
    pub fn read_into(
        &mut self,
        into: &mut Record,
    ) -> Option<Result<Result<(), Rejection>, SourceError>> {
        let width = self.columns.len();
        match &mut self.records {
            Records::Csv {
                reader,
                line_offset,
                delimiter,
            } => match reader.read_record(&mut into.fields) {
                Ok(false) => None,
                Ok(true) => {
                    let line = into.fields.position().map_or(0, csv::Position::line) + *line_offset;
                    into.line = line;
                    Some(Ok(check_record(&into.fields, line, width, *delimiter)))
                }
                Err(e) if e.is_io_error() => Some(Err(SourceError::Broken {
                    last_line: reader.position().line().saturating_sub(1) + *line_offset,
                    cause: e.to_string(),
                })),
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line) + *line_offset;
                    match e.kind() {
                        // The csv crate validates a record's text as a whole; the rows
                        // after it read on.
                        csv::ErrorKind::Utf8 { err, .. } => Some(Ok(Err(Rejection {
                            line,
                            reason: "invalid UTF-8".to_owned(),
                            detail: format!(
                                "field {} is not UTF-8 text (is the file in another encoding?)",
                                err.field() + 1
                            ),
                        }))),
                        _ => Some(Err(SourceError::Malformed {
                            line,
                            message: e.to_string(),
                        })),
                    }
                }
            },
            Records::Json { lines, line, ahead } => {
                let (number, parsed) = match ahead.pop_front() {
                    Some(item) => item,
                    None => match next_json_line(lines, line)? {
                        Ok(item) => item,
                        Err(e) => return Some(Err(e)),
                    },
                };
                Some(Ok(parsed
                    .map(|pairs| json_fields(&self.columns, pairs, number, into))
                    .map_err(|detail| Rejection {
                        line: number,
                        reason: "invalid JSON".to_owned(),
                        detail,
                    })))
            }
        }
    }
}

struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Whether the first line is a JSON object. Adjust's CSV headers also start with `{`
/// (`{activity_kind},{created_at}`), so the brace alone decides nothing.
fn looks_like_json(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    match text.split_once('\n') {
        Some((line, _)) => matches!(
            serde_json::from_str::<serde_json::Value>(line.trim_end()),
            Ok(serde_json::Value::Object(_))
        ),
        // A first line longer than the buffer: a JSON object has a quoted key first.
        None => text.trim_start_matches('{').trim_start().starts_with('"'),
    }
}

/// The delimiter that occurs most often outside quotes on the header line.
fn detect_delimiter(head: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in head {
        if !quoted && (b == b'\n' || b == b'\r') {
            break;
        }
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (delimiter, count) in &mut counts {
                if b == *delimiter {
                    *count += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, count)| *count)
        .filter(|(_, count)| *count > 0)
        .map_or(b',', |(d, _)| *d)
}

/// Whether the header line ends with CRLF (quoted newlines inside it do not count).
fn ends_with_crlf(head: &[u8]) -> bool {
    let mut quoted = false;
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return i > 0 && head[i - 1] == b'\r',
            _ => {}
        }
    }
    false
}

fn open_csv(
    reader: Box<dyn BufRead + Send>,
    delimiter: u8,
    crlf: bool,
) -> Result<(Vec<String>, Records), SourceError> {
    let boxed: Box<dyn Read + Send> = Box::new(reader);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        // As large as the buffer it reads from, which then hands its bytes over
        // without copying them once more.
        .buffer_capacity(1 << 16)
        .flexible(true)
        .has_headers(true)
        .from_reader(boxed);
    let header = csv
        .byte_headers()
        .map_err(|e| SourceError::Malformed {
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let columns = header
        .iter()
        .map(|raw| {
            String::from_utf8(raw.to_vec())
                .map(|s| s.trim().to_owned())
                .map_err(|_| SourceError::Malformed {
                    line: 1,
                    message: "the header is not valid UTF-8 text (save the file as UTF-8)"
                        .to_owned(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        columns,
        Records::Csv {
            reader: csv,
            line_offset: u64::from(crlf),
            delimiter,
        },
    ))
}

/// Why a record is no row of the file, if it is not: a quote that took rows in, or more or
/// fewer fields than the header.
fn check_record(
    record: &csv::StringRecord,
    line: u64,
    width: usize,
    delimiter: u8,
) -> Result<(), Rejection> {
    // A quote that is never closed takes the lines after it, often the rest of the file,
    // into one field, whatever the record's width: a line inside a field with as many
    // delimiters as a row has is a row taken in.
    let delimiters = width.saturating_sub(1);
    let takes_rows = record.iter().any(|field| {
        field
            .split('\n')
            .skip(1)
            .any(|inside| inside.bytes().filter(|&b| b == delimiter).count() >= delimiters)
    });
    if takes_rows {
        // A field that runs to the end of the file ends with the file's last line break.
        let lines: usize = record
            .iter()
            .map(|f| f.trim_end_matches(['\r', '\n']).matches('\n').count())
            .sum();
        let last = line + lines as u64;
        return Err(Rejection {
            line,
            reason: "unclosed quote".to_owned(),
            detail: format!(
                "a quote opened in this row closes only on line {last} or at the end of the \
                 file, so lines {line} to {last} were read as one row"
            ),
        });
    }
    if record.len() == width {
        return Ok(());
    }
    Err(Rejection {
        line,
        reason: "wrong number of fields".to_owned(),
        detail: format!("expected {width} fields, found {}", record.len()),
    })
}

fn open_json(reader: Box<dyn BufRead + Send>) -> Result<(Vec<String>, Records), SourceError> {
    let mut lines = reader.lines();
    let mut line = 0;
    let mut ahead = VecDeque::new();
    let mut columns: Vec<String> = Vec::new();
    while ahead.len() < JSON_SCAN_LINES {
        let Some(item) = next_json_line(&mut lines, &mut line) else {
            break;
        };
        let item = item?;
        if let Ok(pairs) = &item.1 {
            for (key, _) in pairs {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
        ahead.push_back(item);
    }
    if columns.is_empty() {
        return Err(SourceError::Malformed {
            line: 1,
            message: "no JSON object with fields in the first lines".to_owned(),
        });
    }
    Ok((columns, Records::Json { lines, line, ahead }))
}

/// Reads the next non-blank line and flattens it.
fn next_json_line(
    lines: &mut io::Lines<Box<dyn BufRead + Send>>,
    line: &mut u64,
) -> Option<Result<JsonLine, SourceError>> {
    loop {
        *line += 1;
        let text = match lines.next()? {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Some(Ok((*line, Err("not valid UTF-8 text".to_owned()))));
            }
            Err(e) => {
                return Some(Err(SourceError::Broken {
                    last_line: line.saturating_sub(1),
                    cause: e.to_string(),
                }))
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let parsed = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => {
                let mut pairs = Vec::new();
                flatten("", &serde_json::Value::Object(map), &mut pairs);
                Ok(pairs)
            }
            Ok(_) => Err("the line is not a JSON object".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        return Some(Ok((*line, parsed)));
    }
}

/// `{"a": {"b": 1}}` becomes `a.b = 1`; arrays stay JSON text; null is empty.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, inner, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Bool(b) => out.push((prefix.to_owned(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_owned(), n.to_string())),
        Value::Array(_) => out.push((prefix.to_owned(), value.to_string())),
    }
}

/// Puts a JSON line's values in column order into `into` (empty where a key is missing).
fn json_fields(columns: &[String], pairs: Vec<(String, String)>, line: u64, into: &mut Record) {
    let mut fields = vec![String::new(); columns.len()];
    for (key, value) in pairs {
        if let Some(i) = columns.iter().position(|c| *c == key) {
            fields[i] = value;
        }
    }
    into.line = line;
    into.fields.clear();
    for field in &fields {
        into.fields.push_field(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn all(source: &mut Source) -> Vec<Result<Record, Rejection>> {
        std::iter::from_fn(|| source.next_record().map(|r| r.unwrap().cloned())).collect()
    }

    #[test]
    fn semicolons_bom_crlf_and_quoted_newlines() {
        let file = write(b"\xEF\xBB\xBFuser;note\r\nu1;\"a;b\r\nc\"\r\nu2;x\r\n");
        let mut source = Source::open(file.path()).unwrap();
        assert_eq!(source.format, Format::Csv { delimiter: b';' });
        assert_eq!(source.columns, vec!["user", "note"]);
        let rows = all(&mut source);
        assert_eq!(rows[0].as_ref().unwrap().fields, vec!["u1", "a;b\r\nc"]);
        assert_eq!(rows[0].as_ref().unwrap().line, 2);
        // The second record starts on line 4: the quoted field spans lines 2 and 3.
        assert_eq!(rows[1].as_ref().unwrap().line, 4);
    }

    #[test]
    fn short_rows_and_bad_utf8_are_rejected_with_their_line() {
        let file = write(b"a,b\n1,2\n3\n\x93x\x94,4\n");
        let mut source = Source::open(file.path()).unwrap();
        let rows = all(&mut source);
        assert!(rows[0].is_ok());
        let short = rows[1].as_ref().unwrap_err();
        assert_eq!(
            (short.line, short.reason.as_str()),
            (3, "wrong number of fields")
        );
        let latin = rows[2].as_ref().unwrap_err();
        assert_eq!((latin.line, latin.reason.as_str()), (4, "invalid UTF-8"));
    }

    #[test]
    fn json_lines_are_flattened() {
        let file = write(
            b"{\"user\": \"u1\", \"geo\": {\"country\": \"DE\"}, \"n\": 3}\n\n{\"user\": \"u2\", \"extra\": null}\nnot json\n",
        );
        let mut source = Source::open(file.path()).unwrap();
        assert_eq!(source.format, Format::JsonLines);
        assert_eq!(source.columns, vec!["user", "geo.country", "n", "extra"]);
        let rows = all(&mut source);
        assert_eq!(rows[0].as_ref().unwrap().fields, vec!["u1", "DE", "3", ""]);
        assert_eq!(rows[1].as_ref().unwrap().line, 3);
        assert_eq!(rows[2].as_ref().unwrap_err().line, 4);
    }

    #[test]
    fn gzip_is_read_transparently_and_empty_files_are_refused() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"user\tn\nu1\t1\n").unwrap();
        let file = write(&encoder.finish().unwrap());
        let mut source = Source::open(file.path()).unwrap();
        assert!(source.compressed);
        assert_eq!(source.format, Format::Csv { delimiter: b'\t' });
        assert_eq!(all(&mut source).len(), 1);

        assert!(matches!(
            Source::open(write(b"").path()),
            Err(SourceError::Empty)
        ));
    }
}
