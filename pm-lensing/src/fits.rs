//! Minimal FITS writer/reader for full-sky HEALPix maps (RING ordering).
//!
//! Layout written (FITS standard 4.0; HEALPix FITS conventions as read by
//! `healpy.read_map`):
//!
//! * an empty primary HDU (`SIMPLE = T`, `BITPIX = 8`, `NAXIS = 0`,
//!   `EXTEND = T`);
//! * one `BINTABLE` extension with a single column (`TFORM1 = '1D'` for
//!   `f64` maps, `'1E'` for `f32`), one pixel value per row, `NAXIS2 = npix`
//!   rows, and the keywords `PIXTYPE = 'HEALPIX'`, `ORDERING = 'RING'`,
//!   `NSIDE`, `FIRSTPIX = 0`, `LASTPIX = npix - 1`, `INDXSCHM = 'IMPLICIT'`,
//!   `OBJECT = 'FULLSKY'`, followed by caller-supplied [`Card`]s.
//!
//! Headers are 80-character ASCII cards, headers and data are padded to
//! 2880-byte blocks, data are big-endian IEEE floats.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// FITS block size in bytes.
const BLOCK: usize = 2880;
/// FITS card (header record) length in bytes.
const CARD: usize = 80;

/// Errors from the FITS module.
#[derive(Debug)]
pub enum FitsError {
    /// Underlying I/O error.
    Io(std::io::Error),
    /// A length mismatch: map length vs `12 nside^2`, or a truncated file.
    Length {
        /// Expected number of elements (or bytes, for truncated files).
        expected: usize,
        /// Number actually found.
        got: usize,
    },
    /// `nside` is not a power of two in `1..=2^29`.
    Nside(usize),
    /// An invalid header card (bad keyword, reserved keyword, non-ASCII or
    /// too long value, non-finite float).
    Card(String),
    /// A file that is not a FITS HEALPix map this module can read.
    Format(String),
}

impl fmt::Display for FitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitsError::Io(e) => write!(f, "FITS I/O error: {e}"),
            FitsError::Length { expected, got } => {
                write!(f, "FITS length mismatch: expected {expected}, got {got}")
            }
            FitsError::Nside(n) => write!(
                f,
                "nside must be a power of two between 1 and 2^29, got {n}"
            ),
            FitsError::Card(m) => write!(f, "invalid FITS header card: {m}"),
            FitsError::Format(m) => write!(f, "unsupported FITS file: {m}"),
        }
    }
}

impl std::error::Error for FitsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FitsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for FitsError {
    fn from(e: std::io::Error) -> Self {
        FitsError::Io(e)
    }
}

/// Value of a header card.
#[derive(Debug, Clone, PartialEq)]
pub enum CardValue {
    /// Character string (printable ASCII, at most 68 characters after
    /// doubling embedded quotes).
    Str(String),
    /// Floating-point value (must be finite).
    Float(f64),
    /// Integer value.
    Int(i64),
    /// Logical value (`T` / `F`).
    Bool(bool),
}

/// An extra header card `KEYWORD = value / comment` for metadata such as
/// `ZSOURCE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Keyword: 1-8 characters from `A-Z 0-9 - _`. Structural and HEALPix
    /// keywords written by this module are rejected.
    pub key: String,
    /// The value.
    pub value: CardValue,
    /// Comment (printable ASCII; truncated to fit the 80-column card).
    pub comment: String,
}

impl Card {
    /// A card with a string value.
    pub fn str(key: &str, value: &str, comment: &str) -> Self {
        Self::new(key, CardValue::Str(value.to_owned()), comment)
    }
    /// A card with a floating-point value.
    pub fn float(key: &str, value: f64, comment: &str) -> Self {
        Self::new(key, CardValue::Float(value), comment)
    }
    /// A card with an integer value.
    pub fn int(key: &str, value: i64, comment: &str) -> Self {
        Self::new(key, CardValue::Int(value), comment)
    }
    /// A card with a logical value.
    pub fn bool(key: &str, value: bool, comment: &str) -> Self {
        Self::new(key, CardValue::Bool(value), comment)
    }
    fn new(key: &str, value: CardValue, comment: &str) -> Self {
        Self {
            key: key.to_owned(),
            value,
            comment: comment.to_owned(),
        }
    }
}

/// Pixel value types that can be stored: `f64` (`TFORM = '1D'`) and `f32`
/// (`TFORM = '1E'`).
pub trait MapValue: Copy {
    /// FITS binary-table format code of one value (`"1D"` or `"1E"`).
    const TFORM: &'static str;
    /// Appends the big-endian bytes of `self` to `out`.
    fn push_be(self, out: &mut Vec<u8>);
}

impl MapValue for f64 {
    const TFORM: &'static str = "1D";
    #[inline]
    fn push_be(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl MapValue for f32 {
    const TFORM: &'static str = "1E";
    #[inline]
    fn push_be(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

/// Keywords written by this module that callers may not override.
const RESERVED: &[&str] = &[
    "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "TFIELDS", "END",
    "PIXTYPE", "ORDERING", "NSIDE", "FIRSTPIX", "LASTPIX", "INDXSCHM", "OBJECT", "CONTINUE",
];

fn is_reserved(key: &str) -> bool {
    if RESERVED.contains(&key) {
        return true;
    }
    // NAXISn, TTYPEn, TFORMn, ... (indexed structural keywords).
    [
        "NAXIS", "TTYPE", "TFORM", "TBCOL", "TSCAL", "TZERO", "TNULL", "TDIM", "THEAP",
    ]
    .iter()
    .any(|p| {
        key.strip_prefix(p)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn check_keyword(key: &str) -> Result<(), FitsError> {
    if key.is_empty()
        || key.len() > 8
        || !key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(FitsError::Card(format!(
            "keyword {key:?} must be 1-8 characters from A-Z 0-9 - _"
        )));
    }
    if is_reserved(key) {
        return Err(FitsError::Card(format!(
            "keyword {key} is reserved (written by the FITS writer)"
        )));
    }
    Ok(())
}

fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Formats an f64 as a FITS real (always with a decimal point, shortest
/// representation that round-trips).
fn format_float(v: f64) -> String {
    let s = format!("{v:E}"); // e.g. "1.5E-3", "1E0"
    match s.split_once('E') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
        _ => s,
    }
}

/// Formats one 80-byte card `KEY     = value / comment`.
fn format_card(key: &str, value: &CardValue, comment: &str) -> Result<[u8; CARD], FitsError> {
    let val = match value {
        CardValue::Str(s) => {
            if !is_printable(s) {
                return Err(FitsError::Card(format!(
                    "{key}: string value must be printable ASCII"
                )));
            }
            let q = s.replace('\'', "''");
            // Fixed format: opening quote in column 11, at least 8 characters.
            let v = format!("'{q:<8}'");
            if v.len() > CARD - 10 {
                return Err(FitsError::Card(format!(
                    "{key}: string value longer than 68 characters"
                )));
            }
            v
        }
        CardValue::Float(x) => {
            if !x.is_finite() {
                return Err(FitsError::Card(format!("{key}: non-finite float {x}")));
            }
            format!("{:>20}", format_float(*x))
        }
        CardValue::Int(i) => format!("{i:>20}"),
        CardValue::Bool(b) => format!("{:>20}", if *b { "T" } else { "F" }),
    };
    if !is_printable(comment) {
        return Err(FitsError::Card(format!(
            "{key}: comment must be printable ASCII"
        )));
    }
    let mut line = format!("{key:<8}= {val}");
    if !comment.is_empty() && line.len() + 3 < CARD {
        line.push_str(" / ");
        line.push_str(comment);
    }
    line.truncate(CARD); // comment only: the value was checked to fit
    let mut card = [b' '; CARD];
    card[..line.len()].copy_from_slice(line.as_bytes());
    Ok(card)
}

/// Accumulates header cards and pads to a block.
struct Header(Vec<u8>);

impl Header {
    fn new() -> Self {
        Header(Vec::with_capacity(2 * BLOCK))
    }
    fn card(&mut self, key: &str, value: CardValue, comment: &str) -> Result<(), FitsError> {
        self.0
            .extend_from_slice(&format_card(key, &value, comment)?);
        Ok(())
    }
    fn finish(mut self) -> Vec<u8> {
        let mut end = [b' '; CARD];
        end[..3].copy_from_slice(b"END");
        self.0.extend_from_slice(&end);
        let pad = (BLOCK - self.0.len() % BLOCK) % BLOCK;
        self.0.resize(self.0.len() + pad, b' ');
        self.0
    }
}

fn check_nside(nside: usize) -> Result<usize, FitsError> {
    if nside == 0 || !nside.is_power_of_two() || nside > (1 << 29) {
        return Err(FitsError::Nside(nside));
    }
    nside
        .checked_mul(nside)
        .and_then(|v| v.checked_mul(12))
        .ok_or(FitsError::Nside(nside))
}

/// Writes a full-sky RING-ordered HEALPix map as a FITS file to `w`.
///
/// `map.len()` must be `12 nside^2` ([`FitsError::Length`] otherwise).
/// `column` is the column name (`TTYPE1`, e.g. `"KAPPA"` or
/// `"TEMPERATURE"`; printable ASCII, at most 68 characters). `extra` cards
/// are appended to the extension header after the HEALPix keywords. Values
/// are written as `f64` (`'1D'`) or `f32` (`'1E'`) according to `T`.
/// Nothing is written if the arguments are invalid. `w` is not flushed
/// beyond what `write_all` does; wrap files in a `BufWriter` or use
/// [`write_healpix_map_file`].
pub fn write_healpix_map<W: Write, T: MapValue>(
    mut w: W,
    nside: usize,
    map: &[T],
    column: &str,
    extra: &[Card],
) -> Result<(), FitsError> {
    let npix = check_nside(nside)?;
    if map.len() != npix {
        return Err(FitsError::Length {
            expected: npix,
            got: map.len(),
        });
    }
    let width = std::mem::size_of::<T>();

    let mut primary = Header::new();
    primary.card("SIMPLE", CardValue::Bool(true), "conforms to FITS standard")?;
    primary.card("BITPIX", CardValue::Int(8), "array data type")?;
    primary.card("NAXIS", CardValue::Int(0), "no primary data array")?;
    primary.card("EXTEND", CardValue::Bool(true), "extensions follow")?;
    let primary = primary.finish();

    let int = |v: usize| CardValue::Int(v as i64);
    let s = |v: &str| CardValue::Str(v.to_owned());
    let mut h = Header::new();
    h.card("XTENSION", s("BINTABLE"), "binary table extension")?;
    h.card("BITPIX", CardValue::Int(8), "8-bit bytes")?;
    h.card("NAXIS", CardValue::Int(2), "2-dimensional binary table")?;
    h.card("NAXIS1", int(width), "width of table in bytes")?;
    h.card("NAXIS2", int(npix), "number of rows in table")?;
    h.card("PCOUNT", CardValue::Int(0), "size of special data area")?;
    h.card("GCOUNT", CardValue::Int(1), "one data group")?;
    h.card("TFIELDS", CardValue::Int(1), "number of fields in each row")?;
    h.card("TTYPE1", s(column), "label for field 1")?;
    h.card("TFORM1", s(T::TFORM), "data format of field")?;
    h.card("PIXTYPE", s("HEALPIX"), "HEALPIX pixelisation")?;
    h.card("ORDERING", s("RING"), "pixel ordering scheme")?;
    h.card("NSIDE", int(nside), "resolution parameter of HEALPIX")?;
    h.card("FIRSTPIX", CardValue::Int(0), "first pixel # (0 based)")?;
    h.card("LASTPIX", int(npix - 1), "last pixel # (0 based)")?;
    h.card("INDXSCHM", s("IMPLICIT"), "indexing: IMPLICIT or EXPLICIT")?;
    h.card("OBJECT", s("FULLSKY"), "sky coverage")?;
    for c in extra {
        check_keyword(&c.key)?;
        h.card(&c.key, c.value.clone(), &c.comment)?;
    }
    let ext = h.finish();

    w.write_all(&primary)?;
    w.write_all(&ext)?;
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in map.chunks((1 << 16) / width) {
        buf.clear();
        for &v in chunk {
            v.push_be(&mut buf);
        }
        w.write_all(&buf)?;
    }
    let data_len = npix * width;
    let pad = (BLOCK - data_len % BLOCK) % BLOCK;
    w.write_all(&vec![0u8; pad])?;
    Ok(())
}

/// Temporary path used by [`write_healpix_map_file`]: `path` with
/// `.partial` appended (e.g. `map.fits.partial`).
fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Writes the map to `path` atomically: the file is written to
/// `<path>.partial`, flushed and synced, then renamed to `path` (replacing
/// any existing file). On error the partial file is removed. Arguments as
/// in [`write_healpix_map`].
pub fn write_healpix_map_file<T: MapValue>(
    path: impl AsRef<Path>,
    nside: usize,
    map: &[T],
    column: &str,
    extra: &[Card],
) -> Result<(), FitsError> {
    let path = path.as_ref();
    let tmp = partial_path(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        write_healpix_map(&mut w, nside, map, column, extra)?;
        let file = w.into_inner().map_err(|e| FitsError::Io(e.into_error()))?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A parsed header: `(keyword, raw value text)` pairs, and the number of
/// bytes it occupied (a multiple of 2880).
fn parse_header(bytes: &[u8]) -> Result<(Vec<(String, String)>, usize), FitsError> {
    let mut cards = Vec::new();
    let mut pos = 0;
    loop {
        let card = bytes.get(pos..pos + CARD).ok_or(FitsError::Format(
            "header without END card (truncated file?)".into(),
        ))?;
        pos += CARD;
        let key = String::from_utf8_lossy(&card[..8]).trim_end().to_owned();
        if key == "END" {
            break;
        }
        if &card[8..10] == b"= " {
            let rest = String::from_utf8_lossy(&card[10..]).into_owned();
            cards.push((key, value_text(&rest)));
        }
    }
    let len = pos.div_ceil(BLOCK) * BLOCK;
    Ok((cards, len))
}

/// Extracts the value part of a card (strips the comment; unquotes strings).
fn value_text(rest: &str) -> String {
    let t = rest.trim_start();
    if let Some(body) = t.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    break;
                }
            } else {
                out.push(c);
            }
        }
        out.trim_end().to_owned()
    } else {
        t.split('/').next().unwrap_or("").trim().to_owned()
    }
}

fn get<'a>(cards: &'a [(String, String)], key: &str) -> Option<&'a str> {
    cards
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn get_usize(cards: &[(String, String)], key: &str) -> Result<usize, FitsError> {
    get(cards, key)
        .ok_or_else(|| FitsError::Format(format!("missing keyword {key}")))?
        .parse()
        .map_err(|_| FitsError::Format(format!("keyword {key} is not a non-negative integer")))
}

/// Reads a map written by [`write_healpix_map`] (or any full-sky RING map
/// stored as a single `D`/`E` column in the first extension, including
/// healpy's `1024D`-style vector columns). Returns `(nside, values)`.
///
/// This is a minimal reader for round-trip tests, not a general FITS
/// reader: NESTED ordering, partial (`EXPLICIT`) maps, several columns and
/// scaled columns are rejected with [`FitsError::Format`].
pub fn read_healpix_map(path: impl AsRef<Path>) -> Result<(usize, Vec<f64>), FitsError> {
    let bytes = std::fs::read(path)?;
    parse_healpix_map(&bytes)
}

/// [`read_healpix_map`] on an in-memory file.
pub fn parse_healpix_map(bytes: &[u8]) -> Result<(usize, Vec<f64>), FitsError> {
    let (primary, plen) = parse_header(bytes)?;
    if get(&primary, "SIMPLE") != Some("T") {
        return Err(FitsError::Format("not a FITS file (SIMPLE != T)".into()));
    }
    // Skip any primary data array.
    let naxis = get_usize(&primary, "NAXIS")?;
    let mut pdata = 0usize;
    if naxis > 0 {
        let bitpix: i64 = get(&primary, "BITPIX")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| FitsError::Format("bad BITPIX".into()))?;
        let mut n = (bitpix.unsigned_abs() / 8) as usize;
        for i in 1..=naxis {
            n = n
                .checked_mul(get_usize(&primary, &format!("NAXIS{i}"))?)
                .ok_or_else(|| FitsError::Format("primary array too large".into()))?;
        }
        pdata = n.div_ceil(BLOCK) * BLOCK;
    }
    let ext_start = plen
        .checked_add(pdata)
        .filter(|&s| s <= bytes.len())
        .ok_or(FitsError::Length {
            expected: plen.saturating_add(pdata),
            got: bytes.len(),
        })?;
    let (cards, hlen) = parse_header(&bytes[ext_start..])?;
    if get(&cards, "XTENSION") != Some("BINTABLE") {
        return Err(FitsError::Format(
            "first extension is not a BINTABLE".into(),
        ));
    }
    if get_usize(&cards, "TFIELDS")? != 1 {
        return Err(FitsError::Format(
            "only single-column tables are supported".into(),
        ));
    }
    if let Some(o) = get(&cards, "ORDERING")
        && !o.eq_ignore_ascii_case("RING")
    {
        return Err(FitsError::Format(format!(
            "ORDERING = {o}, only RING is supported"
        )));
    }
    if get(&cards, "INDXSCHM").is_some_and(|s| s.eq_ignore_ascii_case("EXPLICIT"))
        || get(&cards, "OBJECT").is_some_and(|s| s.eq_ignore_ascii_case("PARTIAL"))
    {
        return Err(FitsError::Format(
            "partial-sky maps are not supported".into(),
        ));
    }
    if get(&cards, "TSCAL1").is_some() || get(&cards, "TZERO1").is_some() {
        return Err(FitsError::Format("scaled columns are not supported".into()));
    }
    let nside = get_usize(&cards, "NSIDE")?;
    let npix = check_nside(nside)?;
    let tform = get(&cards, "TFORM1")
        .ok_or_else(|| FitsError::Format("missing keyword TFORM1".into()))?
        .trim();
    let (rep, code) = tform.split_at(tform.len().saturating_sub(1));
    let repeat: usize = if rep.is_empty() {
        1
    } else {
        rep.parse()
            .map_err(|_| FitsError::Format(format!("bad TFORM1 {tform:?}")))?
    };
    let width = match code {
        "D" => 8,
        "E" => 4,
        _ => {
            return Err(FitsError::Format(format!(
                "TFORM1 = {tform:?}, only D and E columns are supported"
            )));
        }
    };
    let naxis1 = get_usize(&cards, "NAXIS1")?;
    let naxis2 = get_usize(&cards, "NAXIS2")?;
    if repeat.checked_mul(width) != Some(naxis1) {
        return Err(FitsError::Format(format!(
            "NAXIS1 = {naxis1} does not match TFORM1 = {tform:?}"
        )));
    }
    let nval = naxis2
        .checked_mul(repeat)
        .ok_or_else(|| FitsError::Format("table too large".into()))?;
    if nval != npix {
        return Err(FitsError::Length {
            expected: npix,
            got: nval,
        });
    }
    let data_start = ext_start + hlen;
    let data = bytes
        .get(data_start..)
        .and_then(|d| d.get(..nval * width))
        .ok_or(FitsError::Length {
            expected: data_start.saturating_add(nval * width),
            got: bytes.len(),
        })?;
    let values = if width == 8 {
        data.chunks_exact(8)
            .map(|c| f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    } else {
        data.chunks_exact(4)
            .map(|c| f64::from(f32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    };
    Ok((nside, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_map(nside: usize) -> Vec<f64> {
        (0..12 * nside * nside)
            .map(|i| (i as f64 * 0.37).sin() * 1e-3 + i as f64)
            .collect()
    }

    /// A directory of its own per test (tests run in parallel threads of one process).
    fn tmpdir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pmrs-fits-test-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn card_format() {
        let c = format_card("NSIDE", &CardValue::Int(64), "res").unwrap();
        let s = std::str::from_utf8(&c).unwrap();
        assert_eq!(&s[..33], "NSIDE   =                   64 / ");
        let c = format_card("ORDERING", &CardValue::Str("RING".into()), "").unwrap();
        assert_eq!(
            std::str::from_utf8(&c).unwrap().trim_end(),
            "ORDERING= 'RING    '"
        );
        let c = format_card("A", &CardValue::Str("it's".into()), "").unwrap();
        assert_eq!(
            std::str::from_utf8(&c).unwrap().trim_end(),
            "A       = 'it''s   '"
        );
        let c = format_card("ZS", &CardValue::Float(1.0), "x").unwrap();
        assert_eq!(
            std::str::from_utf8(&c).unwrap().trim_end(),
            "ZS      =                1.0E0 / x"
        );
        assert_eq!(format_float(-1.25e-30), "-1.25E-30");
        assert_eq!(format_float(0.1).parse::<f64>().unwrap(), 0.1);
        let c = format_card("T", &CardValue::Bool(true), &"c".repeat(200)).unwrap();
        assert_eq!(c.len(), 80);
        assert_eq!(c[29], b'T');
        assert!(format_card("X", &CardValue::Float(f64::NAN), "").is_err());
        assert!(format_card("X", &CardValue::Str("a".repeat(69)), "").is_err());
        assert!(format_card("X", &CardValue::Str("a".repeat(68)), "").is_ok());
        assert!(format_card("X", &CardValue::Str("é".into()), "").is_err());
        assert!(check_keyword("ZSOURCE").is_ok());
        for bad in [
            "",
            "zsource",
            "TOOLONGKEY",
            "NSIDE",
            "NAXIS3",
            "TTYPE1",
            "A B",
        ] {
            assert!(check_keyword(bad).is_err(), "{bad}");
        }
        assert!(check_keyword("NAXISX").is_ok());
    }

    #[test]
    fn round_trip_f64_and_f32() {
        let dir = tmpdir("round_trip");
        for nside in [1usize, 2, 16] {
            let map = test_map(nside);
            let extra = [
                Card::float("ZSOURCE", 1.034, "source redshift"),
                Card::int("NSTEP", 42, ""),
                Card::str("CODE", "pmrs", "it's a comment"),
                Card::bool("LENSED", true, ""),
            ];
            let p = dir.join(format!("m{nside}.fits"));
            write_healpix_map_file(&p, nside, &map, "KAPPA", &extra).unwrap();
            assert!(!partial_path(&p).exists());
            let len = std::fs::metadata(&p).unwrap().len() as usize;
            assert_eq!(len % BLOCK, 0);
            let (n, back) = read_healpix_map(&p).unwrap();
            assert_eq!(n, nside);
            assert_eq!(back, map);

            let map32: Vec<f32> = map.iter().map(|&v| v as f32).collect();
            write_healpix_map_file(&p, nside, &map32, "TEMPERATURE", &[]).unwrap();
            let (n, back) = read_healpix_map(&p).unwrap();
            assert_eq!(n, nside);
            assert!(back.iter().zip(&map32).all(|(a, &b)| *a == f64::from(b)));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors() {
        let mut out = Vec::new();
        let r = write_healpix_map(&mut out, 2, &[0.0f64; 47], "KAPPA", &[]);
        assert!(matches!(
            r,
            Err(FitsError::Length {
                expected: 48,
                got: 47
            })
        ));
        assert!(matches!(
            write_healpix_map(&mut out, 3, &[0.0f64; 108], "KAPPA", &[]),
            Err(FitsError::Nside(3))
        ));
        let bad = [Card::int("NSIDE", 4, "")];
        assert!(matches!(
            write_healpix_map(&mut out, 1, &[0.0f64; 12], "KAPPA", &bad),
            Err(FitsError::Card(_))
        ));
        assert!(out.is_empty(), "nothing written on invalid input");

        // Truncated / garbage input never panics.
        write_healpix_map(&mut out, 4, &test_map(4), "KAPPA", &[]).unwrap();
        for cut in [
            0,
            10,
            2880,
            2880 * 2 - 1,
            2880 * 2,
            out.len() - 2881,
            out.len() - 1,
        ] {
            if cut < out.len() {
                assert!(parse_healpix_map(&out[..cut]).is_err() || cut >= 2880 * 2 + 192 * 8);
            }
        }
        assert!(parse_healpix_map(&out).is_ok());
        assert!(parse_healpix_map(&[b' '; 5000]).is_err());
        let e = FitsError::Length {
            expected: 1,
            got: 2,
        };
        assert_eq!(e.to_string(), "FITS length mismatch: expected 1, got 2");

        // A failed file write leaves nothing behind.
        let dir = tmpdir("errors");
        let p = dir.join("bad.fits");
        assert!(write_healpix_map_file(&p, 2, &[0.0f64; 5], "KAPPA", &[]).is_err());
        assert!(!p.exists() && !partial_path(&p).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
