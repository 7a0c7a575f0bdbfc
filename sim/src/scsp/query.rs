//! Query arguments as SCSP reads them (SCSP-43): names are case-insensitive, a valueless
//! argument means `true`, and booleans accept `x`, `x=yes` and `x=true`.

use std::borrow::Cow;

/// Parsed query arguments, in request order, names lower-cased and values percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    args: Vec<(String, Option<String>)>,
}

impl Query {
    /// Parses a raw query string (without the `?`).
    pub fn parse(raw: &str) -> Self {
        Self::parse_with(raw, false)
    }

    /// Parses keeping the case of argument names: the `case-sensitive-query-arguments`
    /// defect, which breaks SCSP-43.
    pub fn parse_case_sensitive(raw: &str) -> Self {
        Self::parse_with(raw, true)
    }

    fn parse_with(raw: &str, keep_case: bool) -> Self {
        let name = |k: &str| {
            let mut decoded = percent_decode(k);
            if !keep_case {
                decoded.make_ascii_lowercase();
            }
            decoded
        };
        let args = raw_args(raw)
            .map(|(k, v)| (name(k), v.map(percent_decode)))
            .collect();
        Self { args }
    }

    /// The value of the first argument with this name (`Some("")` when valueless).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// The same arguments with every value `true` (any case) read as `false`: how the
    /// `boolean-true-not-recognised` defect sees a query.
    pub fn without_true_word(mut self) -> Self {
        for (_, v) in &mut self.args {
            if v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                *v = Some("false".to_string());
            }
        }
        self
    }

    /// True when the argument is present.
    pub fn has(&self, name: &str) -> bool {
        self.args.iter().any(|(k, _)| k == name)
    }

    /// The boolean reading: `x`, `x=yes`, `x=true` (any case) are true; absent or anything
    /// else is false.
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            None => false,
            Some(v) => {
                v.is_empty() || v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true")
            }
        }
    }

    /// The raw query with one argument removed, in the original order and spelling; used to
    /// bind `auth=` tokens to everything else the client sent.
    pub fn raw_without(raw: &str, name: &str) -> String {
        raw.split('&')
            .filter(|part| {
                let k = part.split_once('=').map(|(k, _)| k).unwrap_or(part);
                !part.is_empty() && !percent_decode(k).eq_ignore_ascii_case(name)
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// What `Query::parse(raw).get(name)` answers, read straight from the raw query: a
/// node-to-node handler reads one or two arguments of every request, and building the whole
/// argument list cost an allocation per name and value. `name` is compared as parsed names
/// are (percent-decoded, lower-cased), so it must be lower-case to ever match, as with
/// [`Query::get`].
pub fn lookup<'a>(raw: &'a str, name: &str) -> Option<Cow<'a, str>> {
    raw_args(raw).find_map(|(k, v)| {
        decoded_name_is(k, name).then(|| v.map_or(Cow::Borrowed(""), percent_decode_cow))
    })
}

/// The raw query's arguments as written, name and value (`None` without `=`), empty parts
/// skipped: what [`Query::parse`] decodes and [`lookup`] searches.
fn raw_args(raw: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (part, None),
        })
}

/// True when `k`, percent-decoded and lower-cased as [`Query::parse`] does, is `name`.
fn decoded_name_is(k: &str, name: &str) -> bool {
    let lowered_is = |d: &str| {
        d.len() == name.len()
            && d.bytes()
                .zip(name.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    };
    match percent_decode_cow(k) {
        Cow::Borrowed(d) => lowered_is(d),
        Cow::Owned(d) => lowered_is(&d),
    }
}

/// [`percent_decode`] without a copy when there is nothing to decode.
pub fn percent_decode_cow(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b == b'%' || b == b'+') {
        Cow::Owned(percent_decode(s))
    } else {
        Cow::Borrowed(s)
    }
}

/// Decodes `%XX` escapes and `+` (as space); malformed escapes are kept literally.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    // Runs of plain bytes are copied whole; inventories decode every key this way.
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        return s.to_owned();
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match escaped_byte(bytes[i + 1], bytes[i + 2]) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                let run = bytes[i..]
                    .iter()
                    .position(|&b| b == b'%' || b == b'+')
                    .map_or(bytes.len(), |n| i + n);
                // A lone `%` at the end is not a run start; copy at least one byte.
                let end = run.max(i + 1);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
            }
        }
    }
    // Valid UTF-8 (nearly always) becomes the string without a second copy.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The byte a `%` escape's two characters stand for, read as `u8::from_str_radix(.., 16)`
/// reads them (so a leading `+` sign is accepted: `%+A` is byte 10); `None` when they are
/// not an escape.
fn escaped_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    match high {
        b'+' => digit(low),
        _ => Some(digit(high)? << 4 | digit(low)?),
    }
}

/// Encodes everything but unreserved characters, for keys carried in internal URLs.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    percent_encode_into(&mut out, s);
    out
}

/// [`percent_encode`] appending to `out`.
pub fn percent_encode_into(out: &mut String, s: &str) {
    encode_into(out, s, &UNRESERVED);
}

/// [`percent_encode_into`] that also keeps `/`, for keys in a text where a slash is no
/// separator: an inventory lists every key of a node, and store keys are mostly slashes
/// and unreserved characters, so most of them are copied as they are and read back the same
/// way. Any [`percent_decode`] reads it.
pub fn percent_encode_keeping_slashes_into(out: &mut String, s: &str) {
    encode_into(out, s, &UNRESERVED_OR_SLASH);
}

/// Which bytes stand for themselves: a table look-up per byte instead of five tests.
const UNRESERVED: [bool; 256] = unreserved_table(false);

/// [`UNRESERVED`] and `/`.
const UNRESERVED_OR_SLASH: [bool; 256] = unreserved_table(true);

const fn unreserved_table(slash: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'~')
            || (slash && c == b'/');
        b += 1;
    }
    table
}

fn encode_into(out: &mut String, s: &str, unreserved: &[bool; 256]) {
    /// Every byte's escape, `%00%01…%FF`, so an escape is one append instead of three.
    const ESCAPES: &str = {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        const BYTES: [u8; 768] = {
            let mut table = [0; 768];
            let mut b = 0;
            while b < 256 {
                table[3 * b] = b'%';
                table[3 * b + 1] = HEX[b >> 4];
                table[3 * b + 2] = HEX[b & 0x0f];
                b += 1;
            }
            table
        };
        match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("escapes are ASCII"),
        }
    };
    let unreserved = |b: u8| unreserved[usize::from(b)];
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if unreserved(b) {
            continue;
        }
        if run_start < i {
            // The run is ASCII and ends before byte `i`, so both ends are character
            // boundaries (an empty run may sit inside a multi-byte character).
            out.push_str(&s[run_start..i]);
        }
        let at = 3 * usize::from(b);
        out.push_str(&ESCAPES[at..at + 3]);
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_booleans_have_three_forms() {
        let q = Query::parse("ALIAS&Preserve=YES&x=true&no=0&replicate=2");
        assert!(q.flag("alias"));
        assert!(q.flag("preserve"));
        assert!(q.flag("x"));
        assert!(!q.flag("no"));
        assert!(!q.flag("missing"));
        assert_eq!(q.get("replicate"), Some("2"));
    }

    #[test]
    fn percent_coding_round_trips() {
        let s = "n//b/some name%";
        assert_eq!(percent_decode(&percent_encode(s)), s);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        // Bytes that are not UTF-8 become replacement characters, not an error.
        assert_eq!(percent_decode("a%FFb+c"), "a\u{FFFD}b c");
        assert_eq!(Query::parse("K%41Y=V%41").get("kay"), Some("VA"));
        assert_eq!(Query::parse_case_sensitive("K%41Y=v").get("KAY"), Some("v"));
    }

    /// The decoder as it was written first (a byte at a time, escapes read with
    /// `u8::from_str_radix`): the faster one must give exactly its answers.
    fn decode_byte_by_byte(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 3;
                        }
                        None => {
                            out.push(b'%');
                            i += 1;
                        }
                    }
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn decoding_in_runs_gives_what_decoding_byte_by_byte_gives() {
        let alphabet = ["%", "+", "2", "F", "f", "g", "a", "é", "-", " "];
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = inputs
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            inputs.extend(longer);
        }
        inputs.extend(
            [
                "n%2Ftenant%2Fb%2Fa%20name",
                "%+A",
                "%+",
                "%-1",
                "%%41",
                "%e9",
                "%C3%A9",
                "%C3",
                "plain/key",
                "%",
                "a%",
                "a%4",
            ]
            .map(String::from),
        );
        for s in &inputs {
            assert_eq!(percent_decode(s), decode_byte_by_byte(s), "{s:?}");
        }
    }

    #[test]
    fn encoding_escapes_every_byte_but_the_unreserved_ones() {
        assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(percent_encode("n/t b"), "n%2Ft%20b");
        assert_eq!(percent_encode("é/"), "%C3%A9%2F");
        assert_eq!(percent_encode("xé"), "x%C3%A9");
        assert_eq!(percent_encode("%+\n"), "%25%2B%0A");
        let mut out = String::from("gone ");
        percent_encode_into(&mut out, "a/é");
        assert_eq!(out, "gone a%2F%C3%A9");
        // Every byte, against the escape written out by hand.
        for c in (0..=0x10FFu32).filter_map(char::from_u32) {
            let text = c.to_string();
            let expected: String = text
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            assert_eq!(percent_encode(&text), expected, "{c:?}");
        }
        for s in ["", "é", "日本/語 x", "a+b%c\td"] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
    }

    #[test]
    fn keys_keeping_their_slashes_escape_everything_else_and_read_back() {
        let keep = |s: &str| {
            let mut out = String::new();
            percent_encode_keeping_slashes_into(&mut out, s);
            out
        };
        assert_eq!(keep("n//bucket/a-b_c.d~"), "n//bucket/a-b_c.d~");
        assert_eq!(keep("n/t/b/x y+z%\n"), "n/t/b/x%20y%2Bz%25%0A");
        for c in (0..=0x10FFu32).filter_map(char::from_u32) {
            let text = c.to_string();
            let expected = if c == '/' {
                "/".to_string()
            } else {
                percent_encode(&text)
            };
            assert_eq!(keep(&text), expected, "{c:?}");
        }
        for s in ["", "é", "日本/語 x", "a+b%c\td", "//", "n/t/b/%2F"] {
            assert_eq!(percent_decode(&keep(s)), s);
        }
    }

    #[test]
    fn lookup_answers_what_the_parsed_query_answers() {
        let raws = [
            "",
            "key=a%2Fb",
            "KEY=x&key=y",
            "k%45y=v+w",
            "key",
            "&&key=&key=z",
            "stamp=12&node=3&key=n%2F%2Fb%2Fx",
            "Ke%79=%C3%A9",
            "key%=1&key%3=2&key=3",
            "since=7",
            "x=1&since",
        ];
        for raw in raws {
            let parsed = Query::parse(raw);
            for name in ["key", "since", "stamp", "node", "kEy", "ke", ""] {
                assert_eq!(
                    lookup(raw, name).as_deref(),
                    parsed.get(name),
                    "{raw:?} {name:?}"
                );
            }
        }
    }

    #[test]
    fn raw_without_drops_only_the_named_argument() {
        assert_eq!(Query::raw_without("a=1&AUTH=x&b", "auth"), "a=1&b");
        assert_eq!(Query::raw_without("auth=x", "auth"), "");
    }
}
