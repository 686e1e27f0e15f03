//! The TeX that arXiv titles and abstracts carry (`Adopt $\neq$ Adapt`,
//! `$\mathcal{B}^{3}$-Net`, `M\textsuperscript{4}Fuse`, `Schr\"odinger`), made readable:
//! [`to_unicode`] for every text format (the terminal table, Markdown, the HTML digest,
//! Atom), [`to_markup`] for the web pages, where the math becomes MathML that the
//! browser draws (MathML Core: Chromium 109+, Firefox, Safari) and the rest is escaped
//! text.
//!
//! What is understood: math between `$…$`, `$$…$$`, `\(…\)` and `\[…\]`; in it Greek
//! letters, the common relations, arrows and operators, `^`/`_` (as Unicode super- and
//! subscripts where every character has one, else `^(…)`/`_(…)`), `\frac`, `\sqrt`,
//! `\mathbb`/`\mathcal`/`\mathfrak`/`\mathbf` letters, `\text`/`\mathrm`/`\operatorname`;
//! outside math the accents (`\'e`, `\"{o}`, `\c{c}`, …), `\textit`/`\textbf`/`\emph`/
//! `\texttt`/`\textsc`, `\textsuperscript`/`\textsubscript`, escaped specials (`\&`,
//! `\%`, `\_`) and `--`/`---`. Anything else is left as written: an unknown command or
//! an unmatched `$` prints as it came, never lost. Nesting deeper than [`MAX_DEPTH`] is
//! left as written too, so hostile input costs linear time and cannot overflow the
//! stack.

use maud::{html, Markup, PreEscaped};
use unicode_normalization::UnicodeNormalization;

/// Groups nested deeper than this are printed as written.
pub const MAX_DEPTH: usize = 24;

/// `text` with its TeX turned into Unicode: for plain-text formats.
pub fn to_unicode(text: &str) -> String {
    if !text.contains(['$', '\\', '-', '{']) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for seg in segments(text) {
        match seg {
            Segment::Text(t) => out.push_str(&text_unicode(t, 0)),
            Segment::Math(m) => out.push_str(&nodes_unicode(&parse_math(m))),
        }
    }
    out.nfc().collect()
}

/// `text` for a web page: its math as MathML, everything else escaped text with the
/// text-mode TeX turned into Unicode.
pub fn to_markup(text: &str) -> Markup {
    let mut out = String::with_capacity(text.len() + 16);
    for seg in segments(text) {
        match seg {
            Segment::Text(t) => {
                let t: String = text_unicode(t, 0).nfc().collect();
                out.push_str(&html! { (t) }.into_string());
            }
            Segment::Math(m) => {
                let nodes = parse_math(m);
                let body = html! { @for n in &nodes { (mathml(n)) } };
                // The source stays as the accessible text and what a copy gives.
                out.push_str(
                    &html! {
                        math alttext=(m) { mrow { (body) } }
                    }
                    .into_string(),
                );
            }
        }
    }
    PreEscaped(out)
}

// ---------------------------------------------------------------------------------
// Splitting text and math

#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Text(&'a str),
    Math(&'a str),
}

/// Cuts `s` at its math delimiters. A delimiter without its closing partner is text.
fn segments(s: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let (mut i, mut text_from) = (0, 0);
    while i < b.len() {
        let (open, close): (&str, &str) = match b[i] {
            b'\\' if b.get(i + 1) == Some(&b'(') => ("\\(", "\\)"),
            b'\\' if b.get(i + 1) == Some(&b'[') => ("\\[", "\\]"),
            b'\\' => {
                i += 2; // an escaped character (`\$`) never opens math
                continue;
            }
            b'$' if b.get(i + 1) == Some(&b'$') => ("$$", "$$"),
            b'$' => ("$", "$"),
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i + open.len();
        match find_close(&s[start..], close) {
            Some(len) if len > 0 => {
                if text_from < i {
                    out.push(Segment::Text(&s[text_from..i]));
                }
                out.push(Segment::Math(&s[start..start + len]));
                i = start + len + close.len();
                text_from = i;
            }
            _ => i += open.len(),
        }
    }
    if text_from < s.len() {
        out.push(Segment::Text(&s[text_from..]));
    }
    out
}

/// Where `close` first appears in `s` outside a backslash escape.
fn find_close(s: &str, close: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if s[i..].starts_with(close) {
            return Some(i);
        }
        i += if b[i] == b'\\' && !close.starts_with('\\') {
            2
        } else {
            1
        };
        while i < b.len() && !s.is_char_boundary(i) {
            i += 1;
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// Text mode

/// Text-mode TeX to Unicode; unknown commands stay as written, and so does all of `s`
/// past [`MAX_DEPTH`] nested arguments.
fn text_unicode(s: &str, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        match c {
            '\\' => {
                let (name, after) = command(rest);
                if let Some((repl, after)) = text_command(name, after, depth) {
                    out.push_str(&repl);
                    rest = after;
                } else {
                    out.push_str(&rest[..rest.len() - after.len()]);
                    rest = after;
                }
            }
            '-' if rest.starts_with("---") => {
                out.push('—');
                rest = &rest[3..];
            }
            '-' if rest.starts_with("--") => {
                out.push('–');
                rest = &rest[2..];
            }
            // `{\'e}`, `{\it x}`: a group that only holds a command is its content.
            '{' if rest[1..].starts_with('\\') => match group(rest) {
                Some((inner, after)) if !inner.contains(['{', '$']) => {
                    out.push_str(&text_unicode(inner.trim_start_matches("\\it "), depth + 1));
                    rest = after;
                }
                _ => {
                    out.push('{');
                    rest = &rest[1..];
                }
            },
            _ => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// A text-mode command's replacement and what follows it; `None` for one we do not know.
fn text_command<'a>(name: &str, after: &'a str, depth: usize) -> Option<(String, &'a str)> {
    if let Some(mark) = accent(name) {
        let (arg, after) = argument(after.trim_start_matches(' '))?;
        let arg = text_unicode(arg, depth + 1);
        let mut chars = arg.chars();
        let base = match chars.next()? {
            'ı' => 'i', // `\'\i`: the dotless i only made room for the accent
            c => c,
        };
        let mut s = String::new();
        s.push(base);
        s.push(mark);
        s.extend(chars);
        return Some((s, after));
    }
    if name == "i" {
        return Some(("ı".into(), after));
    }
    let plain = |f: fn(&str) -> String| -> Option<(String, &'a str)> {
        let (arg, after) = argument(after)?;
        Some((f(&text_unicode(arg, depth + 1)), after))
    };
    match name {
        "textit" | "textbf" | "emph" | "texttt" | "textsc" | "textrm" | "textsf" | "text"
        | "mbox" | "textnormal" | "underline" => plain(|s| s.to_string()),
        "textsuperscript" => plain(|s| script(s, SUPERSCRIPTS, '^')),
        "textsubscript" => plain(|s| script(s, SUBSCRIPTS, '_')),
        "&" | "%" | "_" | "#" | "$" | "{" | "}" => Some((name.to_string(), after)),
        "ss" => Some(("ß".into(), after)),
        "o" => Some(("ø".into(), after)),
        "O" => Some(("Ø".into(), after)),
        "ae" => Some(("æ".into(), after)),
        "l" => Some(("ł".into(), after)),
        "L" => Some(("Ł".into(), after)),
        "ldots" | "dots" => Some(("…".into(), after)),
        "LaTeX" => Some(("LaTeX".into(), after)),
        "TeX" => Some(("TeX".into(), after)),
        _ => None,
    }
}

/// The combining mark of a TeX accent command.
fn accent(name: &str) -> Option<char> {
    Some(match name {
        "'" => '\u{301}',
        "`" => '\u{300}',
        "^" => '\u{302}',
        "\"" => '\u{308}',
        "~" => '\u{303}',
        "=" => '\u{304}',
        "." => '\u{307}',
        "u" => '\u{306}',
        "v" => '\u{30C}',
        "H" => '\u{30B}',
        "c" => '\u{327}',
        "k" => '\u{328}',
        "r" => '\u{30A}',
        _ => return None,
    })
}

/// A command at the start of `s` (which starts with `\`): its name (letters, or one
/// other character) and what follows it, a space after a letter name eaten as TeX does.
fn command(s: &str) -> (&str, &str) {
    let body = &s[1..];
    let letters = body.bytes().take_while(u8::is_ascii_alphabetic).count();
    if letters > 0 {
        let after = &body[letters..];
        (&body[..letters], after.strip_prefix(' ').unwrap_or(after))
    } else {
        match body.chars().next() {
            Some(c) => (&body[..c.len_utf8()], &body[c.len_utf8()..]),
            None => ("", body),
        }
    }
}

/// One argument: a `{…}` group (balanced) or a single character.
fn argument(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('{') {
        return group(s);
    }
    let c = s.chars().next()?;
    if c == '\\' {
        let (name, after) = command(s);
        let used = s.len() - after.len();
        return Some((&s[..used.max(1 + name.len())], after));
    }
    Some((&s[..c.len_utf8()], &s[c.len_utf8()..]))
}

/// A balanced `{…}` group at the start of `s`: its inside and what follows.
fn group(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// Math mode

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A letter or a letter-like symbol.
    Ident(String),
    Number(String),
    Op(String),
    Row(Vec<Node>),
    Scripts {
        base: Box<Node>,
        sub: Option<Box<Node>>,
        sup: Option<Box<Node>>,
    },
    Frac(Box<Node>, Box<Node>),
    Sqrt(Option<Box<Node>>, Box<Node>),
    Text(String),
    /// Written as it came: an unknown command, or what lies past [`MAX_DEPTH`].
    Raw(String),
}

fn parse_math(s: &str) -> Vec<Node> {
    let mut p = Parser { rest: s, depth: 0 };
    p.row(false)
}

struct Parser<'a> {
    rest: &'a str,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// Atoms up to the end, or up to the `}` that closes the current group.
    fn row(&mut self, in_group: bool) -> Vec<Node> {
        let mut out: Vec<Node> = Vec::new();
        while let Some(c) = self.rest.chars().next() {
            match c {
                '}' if in_group => {
                    self.rest = &self.rest[1..];
                    return out;
                }
                '^' | '_' => {
                    self.rest = &self.rest[1..];
                    let arg = self.atom().unwrap_or(Node::Row(Vec::new()));
                    let base = match out.pop() {
                        Some(Node::Scripts { base, sub, sup }) => (base, sub, sup),
                        Some(n) => (Box::new(n), None, None),
                        None => (Box::new(Node::Row(Vec::new())), None, None),
                    };
                    let (base, mut sub, mut sup) = base;
                    if c == '^' {
                        sup = Some(Box::new(arg));
                    } else {
                        sub = Some(Box::new(arg));
                    }
                    out.push(Node::Scripts { base, sub, sup });
                }
                _ => match self.atom() {
                    Some(n) => out.push(n),
                    None => break,
                },
            }
        }
        out
    }

    /// One atom: a group, a command with its arguments, a number or one character.
    fn atom(&mut self) -> Option<Node> {
        self.rest = self.rest.trim_start();
        if self.rest.is_empty() {
            return None;
        }
        if self.depth >= MAX_DEPTH {
            // Past the limit the rest is kept as written: no deeper recursion.
            return Some(Node::Raw(std::mem::take(&mut self.rest).into()));
        }
        self.depth += 1;
        let node = self.atom_here();
        self.depth -= 1;
        node
    }

    fn atom_here(&mut self) -> Option<Node> {
        let c = self.rest.chars().next()?;
        match c {
            '{' => {
                self.rest = &self.rest[1..];
                Some(Node::Row(self.row(true)))
            }
            '}' => {
                // A stray closing brace: keep it.
                self.rest = &self.rest[1..];
                Some(Node::Op("}".into()))
            }
            '\\' => Some(self.command()),
            '0'..='9' | '.'
                if c != '.' || self.rest[1..].starts_with(|d: char| d.is_ascii_digit()) =>
            {
                let n = self
                    .rest
                    .bytes()
                    .take_while(|b| b.is_ascii_digit() || *b == b'.')
                    .count();
                let (num, rest) = self.rest.split_at(n);
                self.rest = rest;
                Some(Node::Number(num.into()))
            }
            _ => {
                self.rest = &self.rest[c.len_utf8()..];
                Some(if c.is_alphabetic() {
                    Node::Ident(c.into())
                } else {
                    Node::Op(c.into())
                })
            }
        }
    }

    /// An argument of a command, as a node (missing: an empty row).
    fn arg(&mut self) -> Node {
        self.atom().unwrap_or(Node::Row(Vec::new()))
    }

    /// The raw text of a `{…}` argument (for `\text`), or one character.
    fn text_arg(&mut self) -> String {
        self.rest = self.rest.trim_start();
        match argument(self.rest) {
            Some((inner, after)) => {
                self.rest = after;
                text_unicode(inner, self.depth + 1)
            }
            None => String::new(),
        }
    }

    fn command(&mut self) -> Node {
        let start = self.rest;
        let (name, after) = command(self.rest);
        self.rest = after;
        match name {
            "frac" | "dfrac" | "tfrac" => {
                let a = self.arg();
                let b = self.arg();
                Node::Frac(Box::new(a), Box::new(b))
            }
            "sqrt" => {
                let index = if self.rest.trim_start().starts_with('[') {
                    let r = self.rest.trim_start();
                    match r.find(']') {
                        Some(end) => {
                            let mut inner = Parser {
                                rest: &r[1..end],
                                depth: self.depth + 1,
                            };
                            let idx = inner.row(false);
                            self.rest = &r[end + 1..];
                            Some(Box::new(Node::Row(idx)))
                        }
                        None => None,
                    }
                } else {
                    None
                };
                let x = self.arg();
                Node::Sqrt(index, Box::new(x))
            }
            "text" | "textrm" | "textit" | "textbf" | "texttt" | "mbox" | "textnormal" | "emph" => {
                Node::Text(self.text_arg())
            }
            "mathrm" | "mathit" | "operatorname" | "mathsf" | "mathtt" | "rm" | "it" => {
                if matches!(name, "rm" | "it") {
                    return Node::Row(Vec::new());
                }
                let t = self.text_arg();
                Node::Ident(t)
            }
            "mathbb" | "mathcal" | "mathscr" | "mathfrak" | "mathbf" | "boldsymbol" | "bm" => {
                let t = self.text_arg();
                Node::Ident(t.chars().map(|c| styled(name, c)).collect())
            }
            "left" | "right" | "big" | "Big" | "bigg" | "Bigg" | "bigl" | "bigr" | "Bigl"
            | "Bigr" | "displaystyle" | "textstyle" | "limits" | "nolimits" => {
                Node::Row(Vec::new())
            }
            "," | ";" | ":" | "!" | " " | "quad" | "qquad" => Node::Op(" ".into()),
            _ => match symbol(name) {
                Some(s) if s.chars().all(char::is_alphabetic) => Node::Ident(s.into()),
                Some(s) => Node::Op(s.into()),
                None => {
                    let used = start.len() - self.rest.len();
                    Node::Raw(start[..used].trim_end().into())
                }
            },
        }
    }
}

/// Unicode of a symbol command.
fn symbol(name: &str) -> Option<&'static str> {
    Some(match name {
        "alpha" => "α",
        "beta" => "β",
        "gamma" => "γ",
        "delta" => "δ",
        "epsilon" => "ϵ",
        "varepsilon" => "ε",
        "zeta" => "ζ",
        "eta" => "η",
        "theta" => "θ",
        "vartheta" => "ϑ",
        "iota" => "ι",
        "kappa" => "κ",
        "lambda" => "λ",
        "mu" => "μ",
        "nu" => "ν",
        "xi" => "ξ",
        "pi" => "π",
        "varpi" => "ϖ",
        "rho" => "ρ",
        "varrho" => "ϱ",
        "sigma" => "σ",
        "varsigma" => "ς",
        "tau" => "τ",
        "upsilon" => "υ",
        "phi" => "ϕ",
        "varphi" => "φ",
        "chi" => "χ",
        "psi" => "ψ",
        "omega" => "ω",
        "Gamma" => "Γ",
        "Delta" => "Δ",
        "Theta" => "Θ",
        "Lambda" => "Λ",
        "Xi" => "Ξ",
        "Pi" => "Π",
        "Sigma" => "Σ",
        "Upsilon" => "Υ",
        "Phi" => "Φ",
        "Psi" => "Ψ",
        "Omega" => "Ω",
        "ell" => "ℓ",
        "hbar" => "ℏ",
        "infty" => "∞",
        "partial" => "∂",
        "nabla" => "∇",
        "emptyset" | "varnothing" => "∅",
        "forall" => "∀",
        "exists" => "∃",
        "neg" | "lnot" => "¬",
        "land" | "wedge" => "∧",
        "lor" | "vee" => "∨",
        "neq" | "ne" => "≠",
        "le" | "leq" => "≤",
        "ge" | "geq" => "≥",
        "ll" => "≪",
        "gg" => "≫",
        "approx" => "≈",
        "sim" => "∼",
        "simeq" => "≃",
        "cong" => "≅",
        "equiv" => "≡",
        "propto" => "∝",
        "in" => "∈",
        "notin" => "∉",
        "ni" => "∋",
        "subset" => "⊂",
        "subseteq" => "⊆",
        "supset" => "⊃",
        "supseteq" => "⊇",
        "cup" => "∪",
        "cap" => "∩",
        "setminus" => "∖",
        "to" | "rightarrow" => "→",
        "leftarrow" | "gets" => "←",
        "Rightarrow" | "implies" => "⇒",
        "Leftarrow" => "⇐",
        "leftrightarrow" => "↔",
        "Leftrightarrow" | "iff" => "⇔",
        "mapsto" => "↦",
        "nrightarrow" => "↛",
        "uparrow" => "↑",
        "downarrow" => "↓",
        "times" => "×",
        "cdot" => "⋅",
        "circ" => "∘",
        "bullet" => "∙",
        "pm" => "±",
        "mp" => "∓",
        "div" => "÷",
        "star" => "⋆",
        "ast" => "∗",
        "oplus" => "⊕",
        "ominus" => "⊖",
        "otimes" => "⊗",
        "oslash" => "⊘",
        "odot" => "⊙",
        "dagger" => "†",
        "ddagger" => "‡",
        "sum" => "∑",
        "prod" => "∏",
        "int" => "∫",
        "oint" => "∮",
        "langle" => "⟨",
        "rangle" => "⟩",
        "lceil" => "⌈",
        "rceil" => "⌉",
        "lfloor" => "⌊",
        "rfloor" => "⌋",
        "ldots" | "dots" => "…",
        "cdots" => "⋯",
        "prime" => "′",
        "top" => "⊤",
        "bot" | "perp" => "⊥",
        "models" => "⊨",
        "vdash" => "⊢",
        "mid" => "∣",
        "vert" => "|",
        "Vert" | "|" => "‖",
        "backslash" => "\\",
        "log" => "log",
        "exp" => "exp",
        "max" => "max",
        "min" => "min",
        "arg" => "arg",
        "sin" => "sin",
        "cos" => "cos",
        "lim" => "lim",
        "det" => "det",
        "{" => "{",
        "}" => "}",
        "&" => "&",
        "%" => "%",
        "_" => "_",
        "#" => "#",
        "$" => "$",
        _ => return None,
    })
}

/// `c` in the Unicode mathematical alphabet of a `\mathbb`-like command; other
/// characters unchanged.
fn styled(command: &str, c: char) -> char {
    let (upper, lower, exceptions): (u32, Option<u32>, &[(char, char)]) = match command {
        "mathbb" => (
            0x1D538,
            Some(0x1D552),
            &[
                ('C', 'ℂ'),
                ('H', 'ℍ'),
                ('N', 'ℕ'),
                ('P', 'ℙ'),
                ('Q', 'ℚ'),
                ('R', 'ℝ'),
                ('Z', 'ℤ'),
            ],
        ),
        "mathcal" | "mathscr" => (
            0x1D49C,
            Some(0x1D4B6),
            &[
                ('B', 'ℬ'),
                ('E', 'ℰ'),
                ('F', 'ℱ'),
                ('H', 'ℋ'),
                ('I', 'ℐ'),
                ('L', 'ℒ'),
                ('M', 'ℳ'),
                ('R', 'ℛ'),
                ('e', 'ℯ'),
                ('g', 'ℊ'),
                ('o', 'ℴ'),
            ],
        ),
        "mathfrak" => (
            0x1D504,
            Some(0x1D51E),
            &[('C', 'ℭ'), ('H', 'ℌ'), ('I', 'ℑ'), ('R', 'ℜ'), ('Z', 'ℨ')],
        ),
        _ => (0x1D400, Some(0x1D41A), &[]), // bold
    };
    if let Some(&(_, e)) = exceptions.iter().find(|(k, _)| *k == c) {
        return e;
    }
    let code = match c {
        'A'..='Z' => upper + (c as u32 - 'A' as u32),
        'a'..='z' => match lower {
            Some(l) => l + (c as u32 - 'a' as u32),
            None => return c,
        },
        _ => return c,
    };
    char::from_u32(code).unwrap_or(c)
}

const SUPERSCRIPTS: &[(char, char)] = &[
    ('0', '⁰'),
    ('1', '¹'),
    ('2', '²'),
    ('3', '³'),
    ('4', '⁴'),
    ('5', '⁵'),
    ('6', '⁶'),
    ('7', '⁷'),
    ('8', '⁸'),
    ('9', '⁹'),
    ('+', '⁺'),
    ('-', '⁻'),
    ('−', '⁻'),
    ('=', '⁼'),
    ('(', '⁽'),
    (')', '⁾'),
    ('n', 'ⁿ'),
    ('i', 'ⁱ'),
    ('T', 'ᵀ'),
    ('∘', '°'),
    ('′', '′'),
    ('*', '*'),
    ('∗', '*'),
    ('†', '†'),
    ('⋆', '⋆'),
    ('a', 'ᵃ'),
    ('b', 'ᵇ'),
    ('c', 'ᶜ'),
    ('d', 'ᵈ'),
    ('e', 'ᵉ'),
    ('k', 'ᵏ'),
    ('m', 'ᵐ'),
    ('p', 'ᵖ'),
    ('t', 'ᵗ'),
    ('x', 'ˣ'),
    ('f', 'ᶠ'),
    ('g', 'ᵍ'),
    ('h', 'ʰ'),
    ('j', 'ʲ'),
    ('l', 'ˡ'),
    ('o', 'ᵒ'),
    ('r', 'ʳ'),
    ('s', 'ˢ'),
    ('u', 'ᵘ'),
    ('v', 'ᵛ'),
    ('w', 'ʷ'),
    ('y', 'ʸ'),
    ('z', 'ᶻ'),
];

const SUBSCRIPTS: &[(char, char)] = &[
    ('0', '₀'),
    ('1', '₁'),
    ('2', '₂'),
    ('3', '₃'),
    ('4', '₄'),
    ('5', '₅'),
    ('6', '₆'),
    ('7', '₇'),
    ('8', '₈'),
    ('9', '₉'),
    ('+', '₊'),
    ('-', '₋'),
    ('−', '₋'),
    ('=', '₌'),
    ('(', '₍'),
    (')', '₎'),
    ('a', 'ₐ'),
    ('e', 'ₑ'),
    ('h', 'ₕ'),
    ('i', 'ᵢ'),
    ('j', 'ⱼ'),
    ('k', 'ₖ'),
    ('l', 'ₗ'),
    ('m', 'ₘ'),
    ('n', 'ₙ'),
    ('o', 'ₒ'),
    ('p', 'ₚ'),
    ('r', 'ᵣ'),
    ('s', 'ₛ'),
    ('t', 'ₜ'),
    ('u', 'ᵤ'),
    ('v', 'ᵥ'),
    ('x', 'ₓ'),
];

/// `s` as super- or subscript characters when every character has one; else `^s` or
/// `^(s)`.
fn script(s: &str, table: &[(char, char)], mark: char) -> String {
    let mapped: Option<String> = s
        .chars()
        .map(|c| table.iter().find(|(k, _)| *k == c).map(|&(_, v)| v))
        .collect();
    match mapped {
        Some(m) if !m.is_empty() => m,
        _ if s.chars().count() <= 1 => format!("{mark}{s}"),
        _ => format!("{mark}({s})"),
    }
}

fn nodes_unicode(nodes: &[Node]) -> String {
    nodes.iter().map(node_unicode).collect()
}

fn node_unicode(n: &Node) -> String {
    match n {
        Node::Ident(s) | Node::Number(s) | Node::Op(s) | Node::Text(s) | Node::Raw(s) => s.clone(),
        Node::Row(r) => nodes_unicode(r),
        Node::Scripts { base, sub, sup } => {
            let mut s = node_unicode(base);
            if let Some(sub) = sub {
                s.push_str(&script(&node_unicode(sub), SUBSCRIPTS, '_'));
            }
            if let Some(sup) = sup {
                s.push_str(&script(&node_unicode(sup), SUPERSCRIPTS, '^'));
            }
            s
        }
        Node::Frac(a, b) => format!("{}/{}", wrapped(a), wrapped(b)),
        Node::Sqrt(index, x) => {
            let root = match index.as_deref().map(node_unicode).as_deref() {
                None | Some("") | Some("2") => "√".to_string(),
                Some("3") => "∛".to_string(),
                Some("4") => "∜".to_string(),
                Some(i) => format!("{}√", script(i, SUPERSCRIPTS, '^')),
            };
            format!("{root}{}", wrapped(x))
        }
    }
}

/// A fraction's part or a root's radicand, in parentheses when it is more than one atom.
fn wrapped(n: &Node) -> String {
    let s = node_unicode(n);
    let simple = match n {
        Node::Row(r) => r.len() <= 1,
        Node::Frac(..) => false,
        _ => true,
    };
    if simple || s.chars().count() <= 1 {
        s
    } else {
        format!("({s})")
    }
}

fn mathml(n: &Node) -> Markup {
    match n {
        Node::Ident(s) => html! { mi { (s) } },
        Node::Number(s) => html! { mn { (s) } },
        Node::Op(s) => html! { mo { (s) } },
        Node::Text(s) | Node::Raw(s) => html! { mtext { (s) } },
        Node::Row(r) if r.len() == 1 => mathml(&r[0]),
        Node::Row(r) => html! { mrow { @for x in r { (mathml(x)) } } },
        Node::Scripts { base, sub, sup } => match (sub, sup) {
            (Some(b), Some(p)) => {
                html! { msubsup { (mathml(base)) (mathml(b)) (mathml(p)) } }
            }
            (Some(b), None) => html! { msub { (mathml(base)) (mathml(b)) } },
            (None, Some(p)) => html! { msup { (mathml(base)) (mathml(p)) } },
            (None, None) => mathml(base),
        },
        Node::Frac(a, b) => html! { mfrac { (mathml(a)) (mathml(b)) } },
        Node::Sqrt(None, x) => html! { msqrt { (mathml(x)) } },
        Node::Sqrt(Some(i), x) => html! { mroot { (mathml(x)) (mathml(i)) } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_the_corpus_read_as_unicode() {
        let cases = [
            ("Adopt $\\neq$ Adapt", "Adopt ≠ Adapt"),
            (
                "An $\\ell_0$-Norm of Cyclic Gradient",
                "An ℓ₀-Norm of Cyclic Gradient",
            ),
            ("T$^2$PO: Uncertainty", "T²PO: Uncertainty"),
            (
                "M\\textsuperscript{4}Fuse: Lightweight",
                "M⁴Fuse: Lightweight",
            ),
            ("$\\mathcal{B}^{3}$-Net: Controlled", "ℬ³-Net: Controlled"),
            (
                "Imagining in 360$^\\circ$ for Humanoid",
                "Imagining in 360° for Humanoid",
            ),
            (
                "MMGS: 10$\\times$ Compressed 3DGS",
                "MMGS: 10× Compressed 3DGS",
            ),
            ("A$_3$B$_2$: Adaptive", "A₃B₂: Adaptive"),
            (
                "Breaking $\\textit{Winner-Takes-All}$: Cooperative",
                "Breaking Winner-Takes-All: Cooperative",
            ),
            ("Codes of length $np^s$ over", "Codes of length npˢ over"),
            (
                "over $\\frac{\\mathbb{F}_{p^m}[u]}{\\langle u^t\\rangle}$: Torsions",
                "over (𝔽_(pᵐ)[u])/(⟨uᵗ⟩): Torsions",
            ),
            (
                "Repair I/O of $(n,n-2,2)$ MDS",
                "Repair I/O of (n,n-2,2) MDS",
            ),
            (
                "Schr\\\"odinger bridges and G\\'{e}rard's {\\'e}t\\'e",
                "Schrödinger bridges and Gérard's été",
            ),
            (
                "Stable -- fast --- done, 100\\% \\& more",
                "Stable – fast — done, 100% & more",
            ),
            (
                "Fast Rates in $α$-Potential Games",
                "Fast Rates in α-Potential Games",
            ),
        ];
        for (tex, want) in cases {
            assert_eq!(to_unicode(tex), want, "{tex}");
        }
    }

    #[test]
    fn what_is_not_tex_is_kept_as_written() {
        for s in [
            "Prices rose from $5 to $6 overnight", // one `$` pair would be math; see below
            "A plain title with no TeX",
            "\\ECUAS{n}: A family of metrics",
            "Unmatched $ sign",
            "C++ and x-y",
        ] {
            let out = to_unicode(s);
            if s.starts_with("Prices") {
                // `$5 to $` is taken as math, the rest kept; nothing is lost.
                assert!(out.contains('5') && out.contains('6'), "{out}");
            } else {
                assert_eq!(out, s);
            }
        }
        assert_eq!(to_unicode("$\\unknowncmd{x}$"), "\\unknowncmdx");
    }

    #[test]
    fn scripts_without_unicode_forms_fall_back_to_carets() {
        assert_eq!(to_unicode("$x^{yz}$"), "xʸᶻ");
        assert_eq!(to_unicode("$x^{qz}$"), "x^(qz)");
        assert_eq!(to_unicode("$x^q$"), "x^q");
        assert_eq!(to_unicode("$x_{\\alpha}$"), "x_α");
        assert_eq!(to_unicode("$\\sqrt{n+1}$"), "√(n+1)");
        assert_eq!(to_unicode("$\\sqrt[3]{x}$"), "∛x");
    }

    #[test]
    fn markup_escapes_text_and_math_and_draws_mathml() {
        let m = to_markup("<b>x</b> $a<b$ & $\\frac{1}{2}$").into_string();
        assert!(!m.contains("<b>"), "{m}");
        assert!(m.contains("&lt;b&gt;x&lt;/b&gt;"), "{m}");
        assert!(m.contains("<mo>&lt;</mo>"), "{m}");
        assert!(m.contains("<mfrac><mn>1</mn><mn>2</mn></mfrac>"), "{m}");
        assert!(m.contains("alttext=\"\\frac{1}{2}\""), "{m}");
        let evil = to_markup("$\\text{<script>alert(1)</script>}$ \"><img src=x onerror=1>");
        let evil = evil.into_string();
        assert!(
            !evil.contains("<script") && !evil.contains("<img"),
            "{evil}"
        );
    }

    #[test]
    fn hostile_nesting_and_garbage_cost_linear_time_and_never_panic() {
        let deep = format!("${}x{}$", "{".repeat(100_000), "}".repeat(100_000));
        let out = to_unicode(&deep);
        assert!(out.contains('x'));
        let _ = to_markup(&deep);
        let mut rng = crate::rank::SplitMix64::new(7);
        let alphabet: Vec<char> = "$\\{}^_ab1é'\"`~=.[]()frac sqrt mathbb text"
            .chars()
            .collect();
        for _ in 0..3000 {
            let len = (rng.next_u64() % 40) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize])
                .collect();
            let _ = to_unicode(&s);
            let _ = to_markup(&s).into_string();
        }
    }
}
