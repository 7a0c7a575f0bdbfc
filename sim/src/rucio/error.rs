//! The refusals of the catalog, in the two forms the real server sends: a Rucio exception
//! (status, `ExceptionClass`, `ExceptionMessage` in body and headers) or an uncaught Python
//! exception (500, `text/html`, the exception text as the whole body).

/// One refusal; every catalog operation and every request handler fails with this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A Rucio exception: JSON body and the two headers.
    Rucio {
        /// HTTP status.
        status: u16,
        /// `ExceptionClass`.
        class: &'static str,
        /// `ExceptionMessage` (full; the header carries a cut copy).
        message: String,
    },
    /// A non-Rucio exception the server lets through as a 500 plain-text page.
    Plain {
        /// The body, `str(exception)`.
        text: String,
    },
}

impl Failure {
    /// A Rucio exception.
    pub fn rucio(status: u16, class: &'static str, message: impl Into<String>) -> Self {
        Self::Rucio {
            status,
            class,
            message: message.into(),
        }
    }

    /// A 500 plain-text failure.
    pub fn plain(text: impl Into<String>) -> Self {
        Self::Plain { text: text.into() }
    }

    /// `RSENotFound` with the server's wording; the status differs per endpoint (404 on
    /// POST and DELETE /replicas, 500 elsewhere).
    pub fn rse_not_found(status: u16, rse: &str) -> Self {
        Self::rucio(
            status,
            "RSENotFound",
            format!("RSE '{rse}' cannot be found in vo 'def'"),
        )
    }

    /// A missing key in a JSON body (`param_get` of the server).
    pub fn missing_key(key: &str) -> Self {
        Self::rucio(400, "KeyError", format!("'{key}' not defined"))
    }

    /// An unreadable JSON body.
    pub fn bad_json() -> Self {
        Self::rucio(400, "ValueError", "cannot decode json parameter dictionary")
    }

    /// The status code of this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Rucio { status, .. } => *status,
            Self::Plain { .. } => 500,
        }
    }

    /// The exception class, when it is a Rucio exception.
    pub fn class(&self) -> Option<&'static str> {
        match self {
            Self::Rucio { class, .. } => Some(class),
            Self::Plain { .. } => None,
        }
    }
}

/// The `ExceptionMessage` header value: newlines become spaces, surrounding blanks go
/// (the body keeps `"... on EAST. "`, the header `"... on EAST."`), and messages over 125
/// characters are cut to 125 plus `...` (the recorded headers are 128 long for 234- and
/// 400-character messages).
pub fn header_message(message: &str) -> String {
    let flat: String = message
        .trim()
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() > 125 {
        let cut: String = flat.chars().take(125).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

/// Python's `repr` of a string, as the server embeds names in messages (`'never-added'`).
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_cut_at_125_plus_dots() {
        assert_eq!(header_message(&"R".repeat(125)), "R".repeat(125));
        let long = header_message(&"R".repeat(234));
        assert_eq!(long.len(), 128);
        assert!(long.ends_with("..."));
        assert_eq!(header_message("a\nb"), "a b");
        assert_eq!(
            header_message("Account x can not set tombstones. "),
            "Account x can not set tombstones."
        );
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_repr("never-added"), "'never-added'");
        assert_eq!(py_repr("it's"), "\"it's\"");
    }
}
