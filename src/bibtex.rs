//! Reading BibTeX files (`profile import refs.bib`): entries with their fields, the ids
//! they name (arXiv id, DOI) and a title normalised for matching. It is a pure reader:
//! matching entries to library papers and embedding the rest live in the `profile
//! import` command (`cli`).
//!
//! The grammar is BibTeX's: text outside entries is ignored (and `%` starts a comment
//! there, as biber has it), `@comment` and `@preamble` are skipped, `@string` macros
//! are collected, entries use `{}` or `()`, values are braced, quoted, bare numbers or
//! macro names joined by `#`. Field values are turned into plain text once, here.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::paper::{canonical_id, collapse_whitespace, is_arxiv_id};

/// One entry of a `.bib` file.
#[derive(Debug, Clone, PartialEq)]
pub struct BibEntry {
    /// Lowercased entry type: `article`, `misc`, `inproceedings`, ...
    pub entry_type: String,
    /// The citation key as written.
    pub key: String,
    /// 1-based line of the entry's `@`.
    pub line: u64,
    /// Field values by lowercased name: delimiters removed, `#` and macros resolved,
    /// LaTeX cleaned by [`latex_to_text`] (url, doi, eprint, file only unescaped),
    /// whitespace runs collapsed to one space, trimmed. The first of repeated fields wins.
    pub fields: BTreeMap<String, String>,
}

impl BibEntry {
    /// The value of field `name` (any case), when present and not empty.
    pub fn field(&self, name: &str) -> Option<&str> {
        let value = self.fields.get(&name.to_ascii_lowercase())?;
        (!value.is_empty()).then_some(value.as_str())
    }

    /// The title, when not empty.
    pub fn title(&self) -> Option<&str> {
        self.field("title")
    }

    /// The abstract, when not empty.
    pub fn abstract_text(&self) -> Option<&str> {
        self.field("abstract")
    }

    /// The DOI, lowercased, without a `https://doi.org/`, `http://dx.doi.org/` or `doi:`
    /// prefix; `None` unless it then starts with `10.`.
    pub fn doi(&self) -> Option<String> {
        let mut rest = self.field("doi")?;
        let prefixes = ["https://", "http://", "dx.doi.org/", "doi.org/", "doi:"];
        for prefix in prefixes {
            if rest
                .get(..prefix.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
            {
                rest = rest[prefix.len()..].trim_start();
            }
        }
        let doi = rest.to_lowercase();
        doi.starts_with("10.").then_some(doi)
    }

    /// The canonical arXiv id ([`canonical_id`], no version) the entry names, looked for
    /// in order: `eprint` (unless `archiveprefix`/`eprinttype` names another archive), an
    /// arxiv.org abs/pdf URL in url/howpublished/note, an `arXiv:ID` in
    /// journal/journaltitle/note/number/howpublished, a `10.48550/arXiv.ID` DOI.
    pub fn arxiv_id(&self) -> Option<String> {
        let archive = self.field("archiveprefix").or(self.field("eprinttype"));
        if archive.is_none_or(|a| a.eq_ignore_ascii_case("arxiv")) {
            if let Some(id) = self.field("eprint").and_then(as_arxiv_id) {
                return Some(id);
            }
        }
        let urls = ["arxiv.org/abs/", "arxiv.org/pdf/"];
        for name in ["url", "howpublished", "note"] {
            if let Some(id) = self.field(name).and_then(|v| id_after(v, &urls)) {
                return Some(id);
            }
        }
        for name in ["journal", "journaltitle", "note", "number", "howpublished"] {
            if let Some(id) = self.field(name).and_then(|v| id_after(v, &["arxiv:"])) {
                return Some(id);
            }
        }
        self.doi()?
            .strip_prefix("10.48550/arxiv.")
            .and_then(as_arxiv_id)
    }
}

fn as_arxiv_id(s: &str) -> Option<String> {
    let id = canonical_id(s);
    is_arxiv_id(&id).then_some(id)
}

/// The first arXiv id right after one of `markers` (lowercase ASCII) in `text`.
fn id_after(text: &str, markers: &[&str]) -> Option<String> {
    // ASCII lowercasing keeps byte offsets, so indices into `lower` fit `text`.
    let lower = text.to_ascii_lowercase();
    for marker in markers {
        for (at, _) in lower.match_indices(marker) {
            let tail = text[at + marker.len()..].trim_start();
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-')))
                .unwrap_or(tail.len());
            let token = &tail[..end];
            let token = token.strip_suffix(".pdf").unwrap_or(token);
            if let Some(id) = as_arxiv_id(token.trim_end_matches('.')) {
                return Some(id);
            }
        }
    }
    None
}

/// Parse a whole `.bib` file. Skips `@comment`, `@preamble` and text outside entries
/// (as BibTeX does); collects `@string` macros. An [`Error::Input`] names `path`, the
/// line of the problem (an unterminated entry, brace or quote; a missing key, `=` or
/// comma) and the line where its entry started.
pub fn parse(path: &Path, text: &str) -> Result<Vec<BibEntry>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        path,
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line_starts: std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        macros: BTreeMap::new(),
        expanded: 0,
    };
    let mut entries = Vec::new();
    while p.find_at() {
        if let Some(entry) = p.entry()? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// What the month macros `jan` .. `dec` stand for.
const MONTHS: &str = "January February March April May June July August September October \
                      November December";

/// The most text one value may hold once its `@string` macros are expanded, in bytes.
/// Macros defined as two copies of the previous one double at each step (`a40` would be
/// 2^40 bytes); a real field is far below this.
pub const MAX_EXPANDED_VALUE: usize = 1 << 20;
/// The most text macro expansions may add over a whole file, in bytes.
pub const MAX_EXPANDED_FILE: usize = 16 << 20;

/// Fields holding identifiers or paths: unescaped only, never run through LaTeX cleaning.
const VERBATIM: [&str; 4] = ["doi", "eprint", "file", "url"];

/// Byte-level scanner: every syntax character is ASCII, so slicing at them keeps UTF-8 whole.
struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line_starts: Vec<usize>,
    macros: BTreeMap<String, String>,
    /// Bytes added by macro expansions so far, bounded by [`MAX_EXPANDED_FILE`].
    expanded: usize,
}

/// The entry being read, for error messages: its first line, closing byte, `@type{key`.
struct Ctx {
    line: u64,
    close: u8,
    what: String,
}

impl Parser<'_> {
    fn line_at(&self, pos: usize) -> u64 {
        self.line_starts.partition_point(|&start| start <= pos) as u64
    }

    fn fail(&self, pos: usize, ctx: &Ctx, problem: impl std::fmt::Display) -> Error {
        let message = format!("{problem} (in {} starting at line {})", ctx.what, ctx.line);
        // The entry's key and found characters come from the file.
        let message = crate::render::terminal_safe(&message).into_owned();
        let (path, line) = (self.path.to_path_buf(), self.line_at(pos));
        Error::Input {
            path,
            line,
            message,
        }
    }

    fn unterminated(&self, ctx: &Ctx) -> Error {
        let problem = format!("missing '{}' at the end of the file", ctx.close as char);
        self.fail(self.pos, ctx, problem)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// Skips whitespace and `%` comments up to the end of their line.
    fn skip_space(&mut self) {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.pos += 1,
                Some(b'%') => _ = self.take_while(|b| b != b'\n'),
                _ => return,
            }
        }
    }

    /// Moves to the next `@` outside entries; false at the end of the text.
    fn find_at(&mut self) -> bool {
        loop {
            self.skip_space();
            match self.peek() {
                None => return false,
                Some(b'@') => return true,
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Reads what starts at the `@` under `pos`: an entry, or `None` for a skipped command
    /// or an `@` that starts nothing (an e-mail address in a comment).
    fn entry(&mut self) -> Result<Option<BibEntry>> {
        let at = self.pos;
        self.pos += 1;
        self.skip_space();
        let entry_type = self.take_while(is_name_byte).to_ascii_lowercase();
        self.skip_space();
        let close = match self.peek() {
            Some(b'{') => b'}',
            Some(b'(') => b')',
            _ => 0,
        };
        if entry_type.is_empty() || close == 0 {
            self.pos = at + 1;
            return Ok(None);
        }
        let what = format!("@{entry_type}");
        let mut ctx = Ctx {
            line: self.line_at(at),
            close,
            what,
        };
        match entry_type.as_str() {
            "comment" | "preamble" => return self.skip_balanced(&ctx).map(|()| None),
            "string" => return self.string_macro(&ctx).map(|()| None),
            _ => self.pos += 1,
        }
        self.skip_space();
        let key_at = self.pos;
        let stop = |b: u8| b.is_ascii_whitespace() || b",={}\"#%".contains(&b) || b == close;
        let key = self.take_while(|b| !stop(b)).to_string();
        self.skip_space();
        if key.is_empty() || self.peek() == Some(b'=') {
            return Err(self.fail(key_at, &ctx, "no citation key"));
        }
        ctx.what = format!("@{entry_type}{{{key}");
        let mut fields = BTreeMap::new();
        while let Some((name, raw)) = self.next_field(&ctx, true)? {
            let value = match VERBATIM.contains(&name.as_str()) {
                true => unescape(&raw),
                false => latex_to_text(&raw),
            };
            fields.entry(name).or_insert(collapse_whitespace(&value));
        }
        let line = ctx.line;
        Ok(Some(BibEntry {
            entry_type,
            key,
            line,
            fields,
        }))
    }

    /// `@string{name = value, ...}`; the opening delimiter is under `pos`.
    fn string_macro(&mut self, ctx: &Ctx) -> Result<()> {
        self.pos += 1;
        let mut comma = false;
        while let Some((name, value)) = self.next_field(ctx, comma)? {
            self.macros.insert(name, value);
            comma = true;
        }
        Ok(())
    }

    /// Skips spaces; true (and consumed) at the entry's closing delimiter.
    fn at_close(&mut self, ctx: &Ctx) -> Result<bool> {
        self.skip_space();
        match self.peek() {
            Some(b) if b == ctx.close => {
                self.pos += 1;
                Ok(true)
            }
            Some(b'@') => Err(self.fail(self.pos, ctx, "not closed before the next entry")),
            None => Err(self.unterminated(ctx)),
            Some(_) => Ok(false),
        }
    }

    /// The next `name = value` (name lowercased, value raw), after a comma when `comma`;
    /// `None` once past the closing delimiter.
    fn next_field(&mut self, ctx: &Ctx, comma: bool) -> Result<Option<(String, String)>> {
        if self.at_close(ctx)? {
            return Ok(None);
        }
        if comma {
            if self.peek() != Some(b',') {
                let problem = format!("expected ',' or '{}'", ctx.close as char);
                return Err(self.fail(self.pos, ctx, problem));
            }
            self.pos += 1;
            if self.at_close(ctx)? {
                return Ok(None);
            }
        }
        let name = self.take_while(is_name_byte).to_ascii_lowercase();
        if name.is_empty() {
            let found = self.text[self.pos..].chars().next().unwrap_or(' ');
            let problem = format!("expected a field name, found {found:?}");
            return Err(self.fail(self.pos, ctx, problem));
        }
        self.skip_space();
        match self.peek() {
            Some(b'=') => self.pos += 1,
            None => return Err(self.unterminated(ctx)),
            Some(_) => {
                let problem = format!("missing '=' after field `{name}`");
                return Err(self.fail(self.pos, ctx, problem));
            }
        }
        let value = self.value(&name, ctx)?;
        Ok(Some((name, value)))
    }

    /// A value: braced, quoted, number or macro parts joined by `#`, concatenated raw.
    fn value(&mut self, name: &str, ctx: &Ctx) -> Result<String> {
        let mut out = String::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'{' | b'"') => out.push_str(self.delimited(ctx)?),
                Some(b) if b.is_ascii_digit() => {
                    out.push_str(self.take_while(|b| b.is_ascii_digit()))
                }
                Some(b) if b.is_ascii_alphabetic() => {
                    let at = self.pos;
                    let macro_name = self.take_while(is_name_byte).to_string();
                    let len = self.expand(&macro_name).len();
                    self.expanded = self.expanded.saturating_add(len);
                    if out.len().saturating_add(len) > MAX_EXPANDED_VALUE {
                        let problem = format!(
                            "field `{name}` expands to more than {} MiB of text through `{macro_name}` (@string macros built from copies of each other?)",
                            MAX_EXPANDED_VALUE >> 20
                        );
                        return Err(self.fail(at, ctx, problem));
                    }
                    if self.expanded > MAX_EXPANDED_FILE {
                        let problem = format!(
                            "@string macros expand to more than {} MiB of text in this file (at `{macro_name}` in field `{name}`)",
                            MAX_EXPANDED_FILE >> 20
                        );
                        return Err(self.fail(at, ctx, problem));
                    }
                    out.push_str(self.expand(&macro_name));
                }
                None => return Err(self.unterminated(ctx)),
                Some(_) => {
                    let problem = format!("expected a value for field `{name}`");
                    return Err(self.fail(self.pos, ctx, problem));
                }
            }
            self.skip_space();
            if self.peek() != Some(b'#') {
                return Ok(out);
            }
            self.pos += 1;
        }
    }

    /// The inside of `{...}` (braces nest) or `"..."` (ends at a `"` outside braces).
    fn delimited(&mut self, ctx: &Ctx) -> Result<&str> {
        let open = self.pos;
        let quoted = self.bytes[open] == b'"';
        let mut depth = 0usize;
        self.pos += 1;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if !quoted => return Ok(&self.text[open + 1..self.pos - 1]),
                b'"' if quoted && depth == 0 => return Ok(&self.text[open + 1..self.pos - 1]),
                _ => {}
            }
        }
        let problem = match quoted {
            true => "unterminated quote '\"'",
            false => "unterminated brace '{'",
        };
        Err(self.fail(open, ctx, problem))
    }

    /// A macro's raw value: `@string` ones first, then month names; unknown ones as
    /// written. Borrowed, so a caller can check its size before copying it.
    fn expand<'s>(&'s self, name: &'s str) -> &'s str {
        let lower = name.to_ascii_lowercase();
        if let Some(value) = self.macros.get(&lower) {
            return value;
        }
        let is_month = |m: &&str| lower.len() == 3 && m[..3].eq_ignore_ascii_case(&lower);
        MONTHS.split(' ').find(is_month).unwrap_or(name)
    }

    /// Skips a balanced `{...}` or `(...)` body (`@comment`, `@preamble`).
    fn skip_balanced(&mut self, ctx: &Ctx) -> Result<()> {
        let open = self.bytes[self.pos];
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == open {
                depth += 1;
            } else if b == ctx.close {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
        }
        Err(self.unterminated(ctx))
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_-:.+/".contains(&b)
}

/// For identifier fields: drops braces and the backslash of `\_ \% \& \# \~ \$`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {}
            '\\' if chars.peek().is_some_and(|n| "_%&#~$".contains(*n)) => {}
            c => out.push(c),
        }
    }
    out
}

/// Accent command, letters it applies to, and the accented letters, position for position.
const ACCENTS: [(char, &str, &str); 13] = [
    ('\'', "aeiouycnszAEIOUYCNSZ", "áéíóúýćńśźÁÉÍÓÚÝĆŃŚŹ"),
    ('`', "aeiouAEIOU", "àèìòùÀÈÌÒÙ"),
    ('^', "aeiouAEIOU", "âêîôûÂÊÎÔÛ"),
    ('"', "aeiouyAEIOUY", "äëïöüÿÄËÏÖÜŸ"),
    ('~', "anoANO", "ãñõÃÑÕ"),
    ('=', "aeiouAEIOU", "āēīōūĀĒĪŌŪ"),
    ('.', "ezEZI", "ėżĖŻİ"),
    ('c', "cstCST", "çşţÇŞŢ"),
    ('v', "cdenrstzCDENRSTZ", "čďěňřšťžČĎĚŇŘŠŤŽ"),
    ('u', "agAG", "ăğĂĞ"),
    ('H', "ouOU", "őűŐŰ"),
    ('k', "aeAE", "ąęĄĘ"),
    ('r', "auAU", "åůÅŮ"),
];

/// Control words that make a letter, as `word:letter`.
const LETTERS: &str = "ss:ß o:ø O:Ø ae:æ AE:Æ oe:œ OE:Œ aa:å AA:Å l:ł L:Ł i:i j:j";

/// Commands that only format their argument (or what follows): dropped, text kept.
const FORMATTING: &str = "emph textit textbf texttt textsc textrm textsf textsl textup \
    textnormal mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak boldsymbol bm text \
    mbox url ensuremath operatorname underline textsuperscript textsubscript it bf em sc rm \
    tt protect noopsort";

/// Light LaTeX-to-text for field values: formatting commands (`\emph{x}`, `\textbf{x}`,
/// `\mathrm{x}`, ...) keep their text, accent commands (`{\"u}`, `\'e`, `\c{c}`, `\ss`,
/// ...) become the Unicode letter, `\& \% \$ \_ \#` their character, `~` a space, `--`
/// an en dash (`---` an em dash), braces and math `$` go (the math stays as text). Other
/// commands (`\alpha`) keep their name. Whitespace is left as it is.
pub fn latex_to_text(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '{' | '}' | '$' => i += 1,
            '~' => {
                out.push(' ');
                i += 1;
            }
            '-' if c.get(i + 1) == Some(&'-') => {
                let em = c.get(i + 2) == Some(&'-');
                out.push(if em { '—' } else { '–' });
                i += if em { 3 } else { 2 };
            }
            '\\' => i = command(&c, i + 1, &mut out),
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// Writes the text of the command whose name starts at `c[i]`; returns the index after it.
fn command(c: &[char], i: usize, out: &mut String) -> usize {
    let Some(&first) = c.get(i) else { return i };
    if !first.is_ascii_alphabetic() {
        match first {
            '\'' | '`' | '^' | '"' | '~' | '=' | '.' => return accent(c, first, i + 1, out),
            '\\' | ',' | ';' | ':' => out.push(' '),
            '!' | '/' => {}
            other => out.push(other),
        }
        return i + 1;
    }
    let end = (i..c.len())
        .find(|&j| !c[j].is_ascii_alphabetic())
        .unwrap_or(c.len());
    let name: String = c[i..end].iter().collect();
    // TeX drops the spaces after a control word; do so where the word joins text.
    let after_space = (end..c.len())
        .find(|&j| !c[j].is_whitespace())
        .unwrap_or(c.len());
    if name.len() == 1 && "cvuHkrdbt".contains(first) {
        return accent(c, first, after_space, out);
    }
    let letter = LETTERS
        .split(' ')
        .find_map(|w| w.strip_prefix(name.as_str())?.strip_prefix(':'));
    if let Some(letter) = letter {
        out.push_str(letter);
        return after_space;
    }
    if FORMATTING.split_whitespace().any(|w| w == name) {
        return after_space;
    }
    out.push_str(&name);
    end
}

/// Writes accent `acc` applied to the letter at `c[i]` (bare, braced, or `\i`).
fn accent(c: &[char], acc: char, mut i: usize, out: &mut String) -> usize {
    let braced = c.get(i) == Some(&'{');
    i += usize::from(braced);
    let dotless = c.get(i) == Some(&'\\')
        && matches!(c.get(i + 1), Some('i' | 'j'))
        && !c.get(i + 2).is_some_and(|x| x.is_ascii_alphabetic());
    i += usize::from(dotless);
    let Some(&base) = c.get(i).filter(|b| b.is_alphabetic()) else {
        return i;
    };
    let composed = ACCENTS
        .iter()
        .find(|(a, _, _)| *a == acc)
        .and_then(|(_, from, to)| {
            let k = from.chars().position(|f| f == base)?;
            to.chars().nth(k)
        });
    out.push(composed.unwrap_or(base));
    i += 1;
    i + usize::from(braced && c.get(i) == Some(&'}'))
}

/// A title normalised for matching: LaTeX cleaned ([`latex_to_text`]), lowercased,
/// accents folded to ASCII where simple (é → e, ß → ss, ø → o; other letters kept),
/// every run of other characters one space, trimmed. `{BERT}: Pre-training of Deep\n
/// Bidirectional Transformers` and `BERT: pre-training of deep bidirectional
/// transformers.` give the same string.
pub fn normalize_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for ch in latex_to_text(s).chars().flat_map(char::to_lowercase) {
        if ('\u{300}'..='\u{36f}').contains(&ch) {
            continue; // a combining accent (decomposed text): folding drops it
        }
        if !ch.is_alphanumeric() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        match ch {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'ı' => out.push('i'),
            c => out.push(fold_accent(c).unwrap_or(c)),
        }
    }
    out
}

/// The ASCII letter `c` folds to: itself when ASCII, else its base in [`ACCENTS`].
fn fold_accent(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    ACCENTS.iter().find_map(|(_, from, to)| {
        let k = to.chars().position(|t| t == c)?;
        from.chars().nth(k)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> BibEntry {
        let mut entries = parse(Path::new("t.bib"), text).unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries.remove(0)
    }

    #[test]
    fn reads_entries_in_every_syntax() {
        let e = one(concat!(
            "\n@Article{Doe:2024/a-b.c,\n",
            "  Title = {A {Nested {Braced}} \"quoted\" title},\n",
            "  YEAR = 2024,\n  pages = {1--9},\n}\n",
        ));
        assert_eq!(
            [e.entry_type.as_str(), e.key.as_str()],
            ["article", "Doe:2024/a-b.c"]
        );
        assert_eq!((e.line, e.fields.len()), (2, 3));
        assert_eq!(e.title(), Some("A Nested Braced \"quoted\" title"));
        assert_eq!(
            [e.field("Year"), e.field("pages")],
            [Some("2024"), Some("1–9")]
        );

        let e = one(concat!(
            "@STRING{ Conf = \"Proc. of {T}he \" }\n@string(yr = \"2023\")\n",
            "@inproceedings(k1,\n  booktitle = conf # {Conference} # \" \" # yr,\n",
            "  note = \"a {\"}quote\", month = DEC, address = pami,\n",
            "  abstract = \"  spaced\n\t out  \", empty = {}\n)\n",
        ));
        assert_eq!(e.line, 3);
        assert_eq!(e.field("booktitle"), Some("Proc. of The Conference 2023"));
        assert_eq!(e.field("note"), Some("a \"quote"));
        assert_eq!(e.field("month"), Some("December"));
        // An unknown macro is kept as written.
        assert_eq!(e.field("address"), Some("pami"));
        assert_eq!(e.abstract_text(), Some("spaced out"));
        assert_eq!((e.field("empty"), e.fields["empty"].as_str()), (None, ""));
    }

    #[test]
    fn skips_comments_preamble_and_outside_text() {
        let e = one(concat!(
            "Mail ada@example.org. % @article{commented, title={no}}\n",
            "@comment{ @article{inside, title = {no}} }\n",
            "@preamble{ \"\\newcommand{\\x}{y}\" }\n",
            "@misc{only, title = {Yes}, % a comment between fields\n",
            "  note = {100\\% sure}}\ntrailing text\n",
        ));
        assert_eq!((e.key.as_str(), e.line, e.fields.len()), ("only", 4, 2));
        assert_eq!(e.field("note"), Some("100% sure"));
    }

    #[test]
    fn handles_crlf_and_utf8() {
        let text = "@misc{a,\r\n title = {Über\r\n Straße},\r\n}\r\n\r\n@misc{b, t={Ω}}\r\n";
        let entries = parse(Path::new("t.bib"), text).unwrap();
        assert_eq!(entries[0].title(), Some("Über Straße"));
        assert_eq!((entries[1].line, entries[1].field("t")), (6, Some("Ω")));
        assert_eq!(parse(Path::new("t.bib"), "\u{feff}").unwrap(), vec![]);
    }

    /// `LATEX => TEXT`, one case a line.
    const LATEX: &str = r#"
\emph{Deep} \textit{nets} \textbf {are} \mathrm{good} => Deep nets are good
G{\"u}nl{\"u}, \'e\'{e}, \c{c}\c c, \ss{}, {\o}, \v{S}, \~{}. => Günlü, éé, çç, ß, ø, Š, .
\'{\i}\^\i, \L ukasz, \AE sop => íî, Łukasz, Æsop
\& \% \$ \_ \# => & % $ _ #
a~b, 1--2, a---b => a b, 1–2, a—b
{{BERT}} on $\mathcal{O}(n^2)$ and $\alpha$ => BERT on O(n^2) and alpha"#;

    #[test]
    fn latex_becomes_text() {
        for case in LATEX.lines().skip(1) {
            let (raw, want) = case.split_once(" => ").unwrap();
            assert_eq!(latex_to_text(raw), want, "latex_to_text({raw:?})");
        }
    }

    #[test]
    fn titles_normalise_alike() {
        let a = normalize_title("{BERT}: Pre-training of Deep\n Bidirectional Transformers");
        assert_eq!(a, "bert pre training of deep bidirectional transformers");
        assert_eq!(
            a,
            normalize_title("BERT: pre-training of deep bidirectional transformers.")
        );
        assert_eq!(
            normalize_title(r"Caf\'e {\ss} Æsop -- Ωmega!"),
            "cafe ss aesop ωmega"
        );
        assert_eq!(
            normalize_title("Cafe\u{301} ZÜRICH Łódź"),
            "cafe zurich lodz"
        );
        assert_eq!(normalize_title(r"Q\&A  "), normalize_title("Q&A"));
        assert_eq!(normalize_title(" -- "), "");
    }

    fn with(fields: &str) -> BibEntry {
        one(&format!("@misc{{k, {fields}}}"))
    }

    #[test]
    fn dois_are_bare_and_lowercase() {
        for raw in [
            "10.1000/AB",
            "https://doi.org/10.1000/ab",
            "http://dx.doi.org/10.1000/ab",
        ] {
            assert_eq!(
                with(&format!("doi={{{raw}}}")).doi().as_deref(),
                Some("10.1000/ab")
            );
        }
        assert_eq!(
            with("doi = {doi: 10.1000/a\\_b}").doi().as_deref(),
            Some("10.1000/a_b")
        );
        assert_eq!((with("doi = {n/a}").doi(), with("").doi()), (None, None));
    }

    /// `ID <= FIELDS`, one case a line; `-` for no id.
    const ARXIV: &str = r"
2401.01234 <= eprint={2401.01234v3}, archiveprefix={arXiv}
hep-th/9901001 <= eprint={hep-th/9901001}, eprinttype={arxiv}
2401.01234 <= eprint={arXiv:2401.01234}
- <= eprint={2401.01234}, eprinttype={pubmed}
2401.01234 <= eprint={2401.01234}, url={https://arxiv.org/abs/2402.00001}
2402.00001 <= eprint={junk}, url={https://arxiv.org/pdf/2402.00001v2.pdf}
math.AG/0309136 <= howpublished={\url{arxiv.org/abs/math.AG/0309136v1}}
2402.00001 <= note={see arxiv.org/abs/2402.00001.}
2401.01234 <= journal={arXiv preprint arXiv:2401.01234v2}
2401.01234 <= journaltitle={ArXiv: 2401.01234 [cs.CL]}
2401.01234 <= number={arXiv:2401.01234}, doi={10.48550/arXiv.2402.00001}
2402.00001 <= doi={https://doi.org/10.48550/ARXIV.2402.00001}
- <= journal={arXiv: soon}, doi={10.1/x}, url={https://x.org/2401.01234}";

    #[test]
    fn arxiv_ids_from_every_source() {
        for case in ARXIV.lines().skip(1) {
            let (want, fields) = case.split_once(" <= ").unwrap();
            let got = with(fields).arxiv_id();
            assert_eq!(got.as_deref().unwrap_or("-"), want, "{fields}");
        }
    }

    /// `LINE: MESSAGE`, then the .bib text that gives it, up to `~~~`.
    const ERRORS: &str = "\
3: missing '}' at the end of the file (in @article{k starting at line 1)
@article{k,
 title = {x},
~~~
3: unterminated brace '{' (in @article{k starting at line 2)

@article{k,
 title = {x
  y,
~~~
2: unterminated quote '\"' (in @misc{k starting at line 1)
@misc(k,
 note = \"open {}
)
~~~
2: no citation key (in @article starting at line 1)
@article{
 title = {x}}
~~~
2: no citation key (in @article starting at line 2)

@article{, title = {x}}
~~~
3: missing '=' after field `title` (in @article{k starting at line 1)
@article{k,

 title {x}}
~~~
3: expected ',' or '}' (in @article{k starting at line 1)
@article{k,
 title = {x}
 year = 2020}
~~~
3: not closed before the next entry (in @article{k starting at line 1)
@article{k,
 title = {x},
@book{b, title = {y}}
~~~
2: expected a value for field `title` (in @article{k starting at line 1)
@article{k,
 title = ,}
~~~
1: expected a field name, found '{' (in @article{k starting at line 1)
@article{k, {x}}
~~~
3: missing '}' at the end of the file (in @comment starting at line 1)
@comment{ never
 closed
~~~
1: missing ')' at the end of the file (in @string starting at line 1)
@string(x = {y}";

    #[test]
    fn errors_name_the_line() {
        for case in ERRORS.split("~~~\n") {
            let (want, text) = case.split_once('\n').unwrap();
            match parse(Path::new("a.bib"), text) {
                Err(Error::Input {
                    path,
                    line,
                    message,
                }) => {
                    assert_eq!(path, Path::new("a.bib"));
                    assert_eq!(format!("{line}: {message}"), want, "{text:?}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    /// The fixture's top comment says which entries match, get embedded or are skipped.
    #[test]
    fn reads_the_profile_fixture() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profile/library.bib");
        let entries = parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        let summary: Vec<String> = entries
            .iter()
            .map(|e| {
                let id = e.arxiv_id().or(e.doi()).unwrap_or("-".into());
                let has_abstract = if e.abstract_text().is_some() {
                    "abstract"
                } else {
                    "-"
                };
                format!("{} {} {id} {has_abstract}", e.line, e.key)
            })
            .collect();
        let want = [
            // Matched by arXiv id: from an eprint with a version, a URL, a DOI.
            "23 zhai2026muchthinkingenoughquantifying 2605.23926 -",
            "33 padillaMegakernelWavefrontGPU2026 2605.27323 -",
            // Matched by title only.
            "46 salsman2026slide - -",
            "55 https://doi.org/10.48550/arxiv.2605.28325 2605.28325 -",
            // Not in the sample, with an abstract: embedded.
            "66 NIPS2017_3f5ee243 - abstract",
            "85 devlin-etal-2019-bert 10.18653/v1/n19-1423 abstract",
            // Not in the sample, no abstract: skipped.
            "107 brown2020language 2005.14165 -",
            "115 goodfellow2016deep - -",
        ];
        assert_eq!(summary, want);
        assert_eq!(
            entries[3].doi().as_deref(),
            Some("10.48550/arxiv.2605.28325")
        );
        let listed = "Slide Deck Q&A Quality Assurance App: A Multi-Stage Pipeline for \
                      Pedagogical Question Generation";
        let title = entries[2].title().unwrap();
        assert_ne!(title, listed);
        assert_eq!(normalize_title(title), normalize_title(listed));
        // Macros, accents and month names come out as a reader wants them.
        assert!(entries[3]
            .field("author")
            .unwrap()
            .starts_with("Günlü, Onur"));
        assert!(entries[4]
            .field("author")
            .unwrap()
            .contains("Kaiser, Łukasz"));
        assert_eq!(
            [entries[1].field("month"), entries[5].field("month")],
            [Some("May"), Some("June")]
        );
        let booktitle = entries[5].field("booktitle").unwrap();
        assert!(booktitle.starts_with("Proceedings of the 2019 Conference of the North American"));
        assert!(booktitle.ends_with("Technologies (Long and Short Papers)"));
        assert_eq!(entries[5].field("pages"), Some("4171–4186"));
    }

    // The reader is fed files users exported from anywhere: whatever the bytes, it
    // returns entries or an error, never panics. Mutations of the real fixture reach
    // the deep paths (macros, nesting, LaTeX) that random text rarely does.
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        #[test]
        fn never_panics_on_bib_like_text(s in "[@{}()=,\"#a-zA-Z0-9 \n\\%~$^_'`.:/-]{0,300}") {
            let _ = parse(Path::new("x.bib"), &s);
            let _ = normalize_title(&s);
            let _ = latex_to_text(&s);
        }

        #[test]
        fn never_panics_on_a_mutated_fixture(cut in 0usize..8_000, junk in "\\PC{0,6}") {
            let text = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profile/library.bib"),
            )
            .unwrap();
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mutated = format!("{}{junk}{}", &text[..at], &text[at..]);
            if let Ok(entries) = parse(Path::new("x.bib"), &mutated) {
                for e in &entries {
                    let _ = (e.arxiv_id(), e.doi(), e.title().map(normalize_title));
                }
            }
        }
    }
}
