//! The fleet's results stream: one JSON report a line ([`crate::report::Format::Jsonl`]), its
//! `target` the normalised URL of the targets-file line. Written one whole record per `write`
//! call the moment a target finishes, so a kill or Ctrl-C loses at most the record being
//! written; read back for `--resume` and `report merge`, where a last line cut short by a kill
//! (no newline at the end) is dropped and its target audited again.

use crate::report::{self, ReportError};
use crate::results::Report;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What a JSONL file holds.
#[derive(Debug, Default)]
pub struct Stream {
    pub records: Vec<Report>,
    /// Length in octets of the complete records: where an appending writer starts.
    pub complete_len: u64,
    /// True when a last line without its newline (a record cut by a kill) was dropped.
    pub dropped_tail: bool,
}

/// Reads every complete record of `path`. A line that is complete (newline-terminated) but not a
/// report is an error naming `path:line`: that file was not written by a fleet audit.
pub fn read(path: &Path) -> Result<Stream, ReportError> {
    let text = std::fs::read(path).map_err(|source| ReportError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// [`read`] on a file's content.
pub fn parse(text: &[u8], path: &Path) -> Result<Stream, ReportError> {
    let mut s = Stream::default();
    let mut at = 0usize;
    for (i, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        if !line.ends_with(b"\n") {
            s.dropped_tail = true;
            break;
        }
        at += line.len();
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.iter().all(u8::is_ascii_whitespace) {
            s.complete_len = at as u64;
            continue;
        }
        let place = PathBuf::from(format!("{}:{}", path.display(), i + 1));
        s.records.push(report::parse_json(body, &place)?);
        s.complete_len = at as u64;
    }
    Ok(s)
}

/// Appends records to a JSONL file, each with one `write` and then a flush to the kernel: a record
/// is on disk (in the page cache) before the next target is reported, which is what survives a
/// killed process. (An `fsync` per record would also survive a power cut, at a disk round trip
/// per target; a fleet audit that loses power is resumed like a killed one, re-auditing at most
/// what the disk had not yet written.)
pub struct Writer {
    file: File,
    path: PathBuf,
}

impl Writer {
    /// A new file (an existing one is replaced).
    pub fn create(path: &Path) -> io::Result<Writer> {
        Ok(Writer { file: File::create(path)?, path: path.to_path_buf() })
    }

    /// Continues `path` after its first `complete_len` octets (a cut last record is removed).
    pub fn append_after(path: &Path, complete_len: u64) -> io::Result<Writer> {
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.set_len(complete_len)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Writer { file, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record.
    pub fn write(&mut self, r: &Report) -> io::Result<()> {
        let line = report::json::render_line(r).map_err(io::Error::other)?;
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunKind;

    #[test]
    fn a_cut_last_line_is_dropped_and_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        let mut w = Writer::create(&p).unwrap();
        w.write(&Report::new(RunKind::Audit, "pop3://a:110")).unwrap();
        w.write(&Report::new(RunKind::Audit, "pop3://b:110")).unwrap();
        drop(w);
        let whole = std::fs::read(&p).unwrap();
        assert_eq!(whole.iter().filter(|&&b| b == b'\n').count(), 2);
        // A kill in the middle of the second record.
        std::fs::write(&p, &whole[..whole.len() - 20]).unwrap();
        let s = read(&p).unwrap();
        assert_eq!(s.records.len(), 1);
        assert!(s.dropped_tail);
        let mut w = Writer::append_after(&p, s.complete_len).unwrap();
        w.write(&Report::new(RunKind::Audit, "pop3://c:110")).unwrap();
        let s = read(&p).unwrap();
        let targets: Vec<_> = s.records.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["pop3://a:110", "pop3://c:110"]);
        assert!(!s.dropped_tail);
    }

    #[test]
    fn a_bad_complete_line_names_file_and_line() {
        let r = report::json::render_line(&Report::new(RunKind::Audit, "pop3://a:110")).unwrap();
        let text = format!("{r}\n{{\"x\": 1}}\n");
        let e = parse(text.as_bytes(), Path::new("f.jsonl")).unwrap_err().to_string();
        assert!(e.contains("f.jsonl:3") && e.contains("schema_version"), "{e}");
        assert!(parse(b"", Path::new("f")).unwrap().records.is_empty());
    }
}
