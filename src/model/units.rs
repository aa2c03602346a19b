//! Validated value types of stack.toml: Prometheus durations, byte sizes, Kubernetes
//! quantities and DNS-1123 names. Each parses in `FromStr` and keeps its canonical text,
//! so render code can only ever emit a value that already passed validation.

use std::fmt;
use std::str::FromStr;

/// A Prometheus duration (`180d`, `1h30m`, `0d`), as accepted by `model.ParseDuration`
/// and the operator's `Duration` pattern: units in descending order, each at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    text: String,
    millis: u64,
}

impl Duration {
    pub fn millis(&self) -> u64 {
        self.millis
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }
    pub fn hours(&self) -> f64 {
        self.millis as f64 / 3_600_000.0
    }
    pub fn from_millis(millis: u64) -> Self {
        let text = format_millis(millis);
        Duration { text, millis }
    }
}

/// Shortest Prometheus spelling of a duration in milliseconds.
fn format_millis(mut ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not a Prometheus duration: use a number and unit, largest unit first, e.g. `15d`, `6h`, `1h30m` (units: y w d h m s ms)")
        };
        if s.is_empty() {
            return Err(bad());
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: u64 = 0;
        let mut last_unit = None::<usize>;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(bad());
            }
            let n: u64 = s[start..i].parse().map_err(|_| bad())?;
            let rest = &s[i..];
            // `ms` must be tried before `m`.
            let idx = if rest.starts_with("ms") {
                6
            } else {
                let c = rest.chars().next().ok_or_else(bad)?;
                UNITS.iter().position(|(u, _)| u.len() == 1 && u.starts_with(c)).ok_or_else(bad)?
            };
            if let Some(prev) = last_unit {
                if idx <= prev {
                    return Err(bad());
                }
            }
            last_unit = Some(idx);
            i += UNITS[idx].0.len();
            total = n
                .checked_mul(UNITS[idx].1)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{s}` is too long a duration"))?;
        }
        // Prometheus stores durations as int64 nanoseconds.
        if total > (i64::MAX as u64) / 1_000_000 {
            return Err(format!("`{s}` is too long a duration (over 292 years)"));
        }
        Ok(Duration { text: s.to_string(), millis: total })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const KIB: u64 = 1024;

/// A size in bytes with its canonical spellings for Kubernetes (`870Gi`) and for
/// Prometheus/the operator (`870GiB`; Prometheus byte units are powers of two and need the
/// `B` suffix, `870Gi` is rejected by the operator's ByteSize pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(u64);

impl Bytes {
    pub fn new(b: u64) -> Self {
        Bytes(b)
    }
    pub fn get(self) -> u64 {
        self.0
    }
    /// Largest binary unit that divides the size exactly.
    fn split(self) -> (u64, &'static str) {
        let units = [("Ei", 6u32), ("Pi", 5), ("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)];
        for (u, p) in units {
            let m = KIB.pow(p);
            if self.0 >= m && self.0 % m == 0 {
                return (self.0 / m, u);
            }
        }
        (self.0, "")
    }
    /// Kubernetes quantity: `1Ti`, `500Gi`, `1234`.
    pub fn quantity(self) -> String {
        let (n, u) = self.split();
        format!("{n}{u}")
    }
    /// Prometheus byte size: `1TiB`, `425GiB`, `1234B`.
    pub fn prometheus(self) -> String {
        let (n, u) = self.split();
        format!("{n}{u}B")
    }
    /// `pct` percent, rounded down to a whole GiB (or MiB below 1 GiB), so the result
    /// is never above the requested share.
    pub fn percent_floor(self, pct: u64) -> Bytes {
        let raw = (u128::from(self.0) * u128::from(pct) / 100) as u64;
        let gib = KIB.pow(3);
        let mib = KIB.pow(2);
        if raw >= gib {
            Bytes(raw / gib * gib)
        } else {
            Bytes(raw / mib * mib)
        }
    }
}

fn parse_number_unit(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// A Prometheus byte size as `--storage.tsdb.retention.size` and the operator's
/// `retentionSize` take it: an integer and one of B KB MB GB TB PB EB (or KiB ... EiB),
/// all powers of two.
pub fn parse_prometheus_bytes(s: &str) -> Result<Bytes, String> {
    let bad = || {
        if s.ends_with('i') {
            format!("`{s}` lacks the `B` suffix: Prometheus and the operator need byte sizes like `{s}B`")
        } else {
            format!("`{s}` is not a Prometheus byte size: use an integer and a unit, e.g. `700GiB` (units: B KiB MiB GiB TiB PiB EiB, or KB MB GB TB PB EB as powers of two)")
        }
    };
    let (n, unit) = parse_number_unit(s).ok_or_else(bad)?;
    let p = match unit {
        "B" => 0,
        "KB" | "KiB" => 1,
        "MB" | "MiB" => 2,
        "GB" | "GiB" => 3,
        "TB" | "TiB" => 4,
        "PB" | "PiB" => 5,
        "EB" | "EiB" => 6,
        _ => return Err(bad()),
    };
    n.checked_mul(KIB.pow(p)).map(Bytes).ok_or_else(|| format!("`{s}` is too large"))
}

/// A volume size: a Kubernetes binary quantity (`1Ti`, `500Gi`) or the same with the
/// Prometheus `B` suffix (`1TiB`). Decimal SI units (`1T`, `1TB`) are refused: Kubernetes
/// reads `1T` as 10^12 bytes while Prometheus reads `1TB` as 2^40, and a size that means
/// two things is the kind of mistake this tool exists to stop.
pub fn parse_volume_size(s: &str) -> Result<Bytes, String> {
    let bad = || {
        format!(
            "`{s}` is not a volume size: use a binary unit, e.g. `1Ti`, `500Gi` or `500GiB` (units: Ki Mi Gi Ti Pi Ei)"
        )
    };
    let (n, unit) = parse_number_unit(s).ok_or_else(bad)?;
    let unit = unit.strip_suffix('B').unwrap_or(unit);
    let p = match unit {
        "" => 0,
        "Ki" => 1,
        "Mi" => 2,
        "Gi" => 3,
        "Ti" => 4,
        "Pi" => 5,
        "Ei" => 6,
        "k" | "K" | "M" | "G" | "T" | "P" | "E" => {
            return Err(format!(
                "`{s}` uses a decimal unit, which Kubernetes and Prometheus read differently; write the binary unit, e.g. `{n}{}i`",
                unit.to_uppercase()
            ))
        }
        _ => return Err(bad()),
    };
    let b = n.checked_mul(KIB.pow(p)).ok_or_else(|| format!("`{s}` is too large"))?;
    if b == 0 {
        return Err(format!("`{s}`: a volume cannot be empty"));
    }
    Ok(Bytes(b))
}

/// A Kubernetes quantity for CPU or memory (`500m`, `2`, `8Gi`, `1.5`), validated against
/// the apimachinery quantity grammar and kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity(String);

impl Quantity {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Value in units (bytes for memory, cores for CPU), for comparisons in lints; one
    /// too large for [`quantity_nanos`] is infinite.
    pub fn value(&self) -> f64 {
        quantity_nanos(&self.0).map_or(f64::INFINITY, |n| n as f64 / 1e9)
    }
}

impl FromStr for Quantity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a Kubernetes quantity: e.g. `500m`, `2`, `8Gi`");
        let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let num = &s[..end];
        if num.is_empty() || num.matches('.').count() > 1 || num == "." || num.len() > 18 {
            return Err(bad());
        }
        match &s[end..] {
            "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {}
            _ => return Err(bad()),
        }
        Ok(Quantity(s.to_string()))
    }
}

/// A Kubernetes quantity in nano-units, exactly (`500m`, `2`, `8Gi`, `1.5`, `1e3`), as
/// the API server reads it: digits past the ninth decimal round up to the next nano-unit.
/// `None` when it is not a quantity or does not fit.
pub fn quantity_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    let (neg, num) = match num.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || !(int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())) {
        return None;
    }
    let (frac, beyond) = frac.split_at(frac.len().min(9));
    let mut nano: i128 = if int.is_empty() { 0 } else { int.parse::<i128>().ok()? }.checked_mul(1_000_000_000)?;
    if !frac.is_empty() {
        nano += frac.parse::<i128>().ok()? * 10i128.pow(9 - frac.len() as u32);
    }
    if beyond.bytes().any(|b| b != b'0') {
        nano += 1;
    }
    let mult: i128 = match suffix {
        "" => 1,
        "n" => return Some(sign(neg, nano / 1_000_000_000)),
        "u" => return Some(sign(neg, nano / 1_000_000)),
        "m" => return Some(sign(neg, nano / 1000)),
        "k" => 1000,
        "M" => 1000i128.pow(2),
        "G" => 1000i128.pow(3),
        "T" => 1000i128.pow(4),
        "P" => 1000i128.pow(5),
        "E" => 1000i128.pow(6),
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            if !(-9..=18).contains(&exp) {
                return None;
            }
            return Some(sign(
                neg,
                if exp >= 0 { nano * 10i128.pow(exp as u32) } else { nano / 10i128.pow((-exp) as u32) },
            ));
        }
        _ => return None,
    };
    Some(sign(neg, nano.checked_mul(mult)?))
}

fn sign(neg: bool, v: i128) -> i128 {
    if neg {
        -v
    } else {
        v
    }
}

/// A DNS-1123 label: at most 63 characters of `[a-z0-9-]`, starting and ending alphanumeric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct K8sName(String);

impl K8sName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn check_dns1123_label(s: &str, max: usize) -> Result<(), String> {
    let ok_chars = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && s.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric);
    if s.is_empty() || !ok_chars || !ok_ends {
        return Err(format!(
            "`{s}` is not a DNS-1123 label: lower-case letters, digits and `-`, starting and ending with a letter or digit"
        ));
    }
    if s.len() > max {
        return Err(format!("`{s}` is {} characters long; at most {max} fit here", s.len()));
    }
    Ok(())
}

impl FromStr for K8sName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_dns1123_label(s, 63)?;
        Ok(K8sName(s.to_string()))
    }
}

impl fmt::Display for K8sName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("180d".parse::<Duration>().unwrap().millis(), 180 * 86_400_000);
        assert_eq!("1h30m".parse::<Duration>().unwrap().millis(), 5_400_000);
        assert_eq!("0d".parse::<Duration>().unwrap().millis(), 0);
        assert_eq!("1m500ms".parse::<Duration>().unwrap().millis(), 60_500);
        for bad in ["", "d", "1", "30m1h", "1h1h", "1.5h", "-1d", "1 d", "99999999999999y"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
        assert_eq!(Duration::from_millis(5_400_000).as_str(), "1h30m");
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_prometheus_bytes("700GiB").unwrap().get(), 700 << 30);
        assert_eq!(parse_prometheus_bytes("1TB").unwrap().get(), 1 << 40);
        assert!(parse_prometheus_bytes("700Gi").unwrap_err().contains("`B` suffix"));
        assert_eq!(parse_volume_size("1TiB").unwrap().quantity(), "1Ti");
        assert_eq!(parse_volume_size("1Ti").unwrap().prometheus(), "1TiB");
        assert!(parse_volume_size("1T").is_err());
        assert_eq!(parse_volume_size("1Ti").unwrap().percent_floor(85).prometheus(), "870GiB");
        assert_eq!(parse_volume_size("500Gi").unwrap().percent_floor(85).prometheus(), "425GiB");
    }

    #[test]
    fn names_and_quantities() {
        assert!("prod-1".parse::<K8sName>().is_ok());
        for bad in ["Prod", "-a", "a-", "a_b", ""] {
            assert!(bad.parse::<K8sName>().is_err(), "{bad}");
        }
        for ok in ["500m", "2", "8Gi", "1.5"] {
            assert!(ok.parse::<Quantity>().is_ok(), "{ok}");
        }
        for bad in ["8GB", "", "x", "1..2"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad}");
        }
    }
}
