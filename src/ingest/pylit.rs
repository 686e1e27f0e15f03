//! A small parser for the Python-literal strings that pandas writes into CSV cells
//! when a column held lists or dicts (the Kaggle sample's `versions` and
//! `authors_parsed`: `[{'version': 'v1', 'created': '...'}]`, `[['Last', 'First', '']]`).
//! It reads lists, tuples, dicts, quoted strings with Python escapes, numbers and
//! `None`/`True`/`False` into a `serde_json::Value`, so the same field mapping serves
//! the CSV and the JSON Lines flavour. JSON itself is a subset it also reads. It is not
//! a Python evaluator: anything else is an error, never a panic.

use serde_json::{Map, Value};

/// Nesting deeper than this is an error (no input of ours nests more than 3 deep).
const MAX_DEPTH: usize = 32;

/// Parse one Python literal; the whole input must be that literal (surrounding
/// whitespace allowed). The error says what was expected and at which character.
pub(crate) fn parse(s: &str) -> Result<Value, String> {
    let mut p = Parser { s, pos: 0 };
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos < s.len() {
        return Err(p.err("the end of the literal"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a str,
    /// Byte offset, always on a char boundary.
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn err(&self, expected: &str) -> String {
        let at = self.s[..self.pos].chars().count();
        match self.peek() {
            Some(c) => format!("expected {expected} at character {at}, found `{c}`"),
            None => format!("expected {expected} at character {at}, found the end"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        self.skip_ws();
        match self.peek() {
            Some('[') => self.sequence(']', depth),
            Some('(') => self.sequence(')', depth),
            Some('{') => self.dict(depth),
            Some(q @ ('\'' | '"')) => {
                self.bump();
                self.string(q).map(Value::String)
            }
            Some(_) => self.atom(),
            None => Err(self.err("a value")),
        }
    }

    fn sequence(&mut self, close: char, depth: usize) -> Result<Value, String> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.bump();
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(c) if c == close => {}
                _ => return Err(self.err(&format!("`,` or `{close}`"))),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, String> {
        self.bump();
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(Value::Object(map));
            }
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            self.skip_ws();
            if self.bump() != Some(':') {
                return Err(self.err("`:` after a dict key"));
            }
            let v = self.value(depth + 1)?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {}
                _ => return Err(self.err("`,` or `}`")),
            }
        }
    }

    /// The rest of a string whose opening quote `q` was read.
    fn string(&mut self, q: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.err(&format!("a closing `{q}`")));
            };
            match c {
                c if c == q => return Ok(out),
                '\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(c) = self.bump() else {
            return Err(self.err("an escaped character"));
        };
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            '\\' | '\'' | '"' => out.push(c),
            '\n' => {} // a line continuation
            'x' => out.push(self.hex_char(2)?),
            'u' => out.push(self.hex_char(4)?),
            'U' => out.push(self.hex_char(8)?),
            // Python keeps unknown escapes as they are.
            other => {
                out.push('\\');
                out.push(other);
            }
        }
        Ok(())
    }

    fn hex_char(&mut self, digits: usize) -> Result<char, String> {
        let mut n: u32 = 0;
        for _ in 0..digits {
            let d = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.err("a hex digit"))?;
            self.bump();
            n = n * 16 + d;
        }
        char::from_u32(n).ok_or_else(|| format!("`\\u{n:x}` is not a character"))
    }

    /// `None`, `True`, `False`, a number, or a bare word (kept as a string).
    fn atom(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | ')' | '}' | ':'))
        {
            self.bump();
        }
        let word = &self.s[start..self.pos];
        if word.is_empty() {
            return Err(self.err("a value"));
        }
        Ok(match word {
            "None" | "null" | "nan" | "NaN" => Value::Null,
            "True" | "true" => Value::Bool(true),
            "False" | "false" => Value::Bool(false),
            _ => match word.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => match word.parse::<f64>() {
                    Ok(x) if x.is_finite() => Value::from(x),
                    _ => Value::String(word.to_string()),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kaggle_csv_cells() {
        assert_eq!(
            parse("[{'version': 'v1', 'created': 'Mon, 2 Apr 2007 19:18:42 GMT'}, {'version': 'v2', 'created': 'Tue, 24 Jul 2007 20:10:27 GMT'}]").unwrap(),
            json!([{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                   {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}])
        );
        // Double quotes where the text has an apostrophe, as Python's repr writes them.
        assert_eq!(
            parse(r#"[['Hague', 'J. P.', ''], ["d'Ambrumenil", 'N.', '']]"#).unwrap(),
            json!([["Hague", "J. P.", ""], ["d'Ambrumenil", "N.", ""]])
        );
        // An affiliation with an escaped newline, and non-ASCII text.
        assert_eq!(
            parse(
                r"[['Gähler', 'Franz', '', 'Institut für Theoretische und\n  Angewandte Physik']]"
            )
            .unwrap(),
            json!([[
                "Gähler",
                "Franz",
                "",
                "Institut für Theoretische und\n  Angewandte Physik"
            ]])
        );
    }

    #[test]
    fn scalars_and_escapes() {
        assert_eq!(parse("None").unwrap(), Value::Null);
        assert_eq!(parse(" (1, 2.5, True,) ").unwrap(), json!([1, 2.5, true]));
        assert_eq!(
            parse(r"'a\'b\\c\x41\u00e9\q'").unwrap(),
            json!("a'b\\cAé\\q")
        );
        assert_eq!(
            parse(r#"{"k": [1, {"x": null}]}"#).unwrap(),
            json!({"k": [1, {"x": null}]})
        );
        assert_eq!(parse("[]").unwrap(), json!([]));
    }

    #[test]
    fn bad_literals_are_errors_not_panics() {
        for bad in [
            "",
            "[",
            "['a'",
            "['a' 'b']",
            "{'a' 1}",
            "'unterminated",
            r"'\x4'",
            r"'\U0011ffff'",
            "[1] 2",
            "{",
            ",",
            "[,]",
            "'\\",
        ] {
            assert!(parse(bad).is_err(), "parse({bad:?}) should fail");
        }
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).unwrap_err().contains("deeper"));
    }

    /// How Python's `repr` writes a string: single quotes unless the text has a `'`
    /// and no `"`; backslash escapes for the quote, `\\` and line breaks.
    fn py_repr(s: &str) -> String {
        let q = if s.contains('\'') && !s.contains('"') {
            '"'
        } else {
            '\''
        };
        let mut out = String::from(q);
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c == q => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out.push(q);
        out
    }

    proptest::proptest! {
        // A failure becomes a named regression test, not a file beside the sources.
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC*") {
            let _ = parse(&s);
        }

        /// `authors_parsed` cells as pandas writes them read back as the lists written.
        #[test]
        fn python_repr_of_string_lists_round_trips(
            rows in proptest::collection::vec(proptest::collection::vec(".*", 0..4), 0..5)
        ) {
            let text = format!(
                "[{}]",
                rows.iter()
                    .map(|r| format!("[{}]", r.iter().map(|s| py_repr(s)).collect::<Vec<_>>().join(", ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let want = Value::Array(
                rows.iter()
                    .map(|r| Value::Array(r.iter().cloned().map(Value::String).collect()))
                    .collect(),
            );
            proptest::prop_assert_eq!(parse(&text), Ok(want), "{}", text);
        }
    }
}
