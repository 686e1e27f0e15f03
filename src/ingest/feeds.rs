//! arXiv XML documents: API responses (Atom `<feed>` of `<entry>`) and listing feeds
//! (RSS 2.0 `<rss><channel><item>`, and the Atom flavour of the listing feed). The
//! document is read whole into a small element tree (depth-capped), entries are moved
//! out as they close, and each is mapped on its own: one bad entry is an error for that
//! entry only. A well-formedness error (or a NUL byte, which XML forbids) inside an
//! entry is an error for that entry, and reading goes on at the next `<entry>`/`<item>`
//! start tag; one with no entry after it ends the document, and the error says from
//! which line on nothing was read. Errors name the line of the element at fault (the
//! bad date, not the entry's first line). Element names are matched by local name,
//! ignoring case (`arxiv:doi` and `arxiv:DOI` both occur).

use std::borrow::Cow;

use chrono::NaiveDate;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

use super::fields::{date_field, split_authors, split_listing_prefix, Draft};
use super::Format;
use crate::paper::{canonical_id, is_arxiv_id, Paper};

/// Elements nested deeper than this end the document with an error (arXiv's nest 3).
const MAX_DEPTH: usize = 64;

/// One parsed element: local name, attributes (local names), direct text, children.
#[derive(Debug, Default)]
pub(super) struct Element {
    pub(super) name: String,
    pub(super) attrs: Vec<(String, String)>,
    pub(super) text: String,
    pub(super) children: Vec<Element>,
    /// 1-based line of the start tag.
    pub(super) line: u64,
}

impl Element {
    pub(super) fn children_named<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a Element> + use<'a, 'n> {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children_named(name).next()
    }

    /// The trimmed text of the first child `name`, when it has any.
    pub(super) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An entry as parsing left it: whole, or broken by a well-formedness error.
pub(super) enum Parsed {
    Entry(Element),
    /// An entry that could not be read: the line of the problem and what it was.
    Broken(u64, String),
    /// A problem outside any entry, with its line; the entries around it are kept.
    Skipped(u64, String),
}

/// What parsing left: the root (without its entries; partial after an error), the
/// entries in document order, and the well-formedness error that stopped it, if any,
/// with its line.
pub(super) struct Document {
    pub(super) root: Option<Element>,
    pub(super) entries: Vec<Parsed>,
    pub(super) error: Option<(u64, String)>,
}

fn is_entry(name: &str) -> bool {
    name.eq_ignore_ascii_case("entry") || name.eq_ignore_ascii_case("item")
}

/// Turns byte offsets into 1-based lines; offsets must come in increasing order, so
/// the whole document is scanned once.
struct LineCounter<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if offset > self.pos {
            let newlines = self.text.as_bytes()[self.pos..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.pos = offset;
        }
        self.line
    }

    /// 1-based column (in bytes) of `offset`, which must be at or after the last
    /// offset given to `line_at`.
    fn column_at(&self, offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        let line_start = self.text.as_bytes()[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        (offset - line_start) as u64 + 1
    }
}

fn element_from(start: &BytesStart<'_>, line: u64) -> Element {
    let name = start.local_name().into_inner().to_string();
    let attrs = start
        .attributes()
        .filter_map(Result::ok)
        .map(|a| {
            let key = a.key.local_name().into_inner().to_string();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map(Cow::into_owned)
                .unwrap_or_else(|_| a.value.to_string());
            (key, value)
        })
        .collect();
    Element {
        name,
        attrs,
        line,
        ..Element::default()
    }
}

/// Where reading can go on after a well-formedness error at `from`: the next start
/// tag of an entry (`<entry` or `<item`, any case, any prefix), as a byte offset.
fn next_entry_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from.min(bytes.len());
    while let Some(i) = bytes[at..].iter().position(|&b| b == b'<') {
        let tag = at + i;
        let name_end = bytes[tag + 1..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
            .map_or(bytes.len(), |n| tag + 1 + n);
        let name = &text[tag + 1..name_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        if name_end < bytes.len() && is_entry(local) {
            return Some(tag);
        }
        at = tag + 1;
    }
    None
}

/// A reader of `text` that leaves matching end tags to us: after an error, reading
/// restarts in the middle of the document, where the end tags of elements opened
/// before are legitimately unmatched for a fresh reader.
fn reader_of(text: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    reader
}

pub(super) fn parse_document(text: &str) -> Document {
    let mut reader = reader_of(text);
    // Byte offset of `reader`'s input in `text` (it restarts after an error).
    let mut base = 0u64;
    let mut lines = LineCounter {
        text,
        pos: 0,
        line: 1,
    };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut entries: Vec<Parsed> = Vec::new();
    let mut error = None;

    // Attach a closed element to its parent, or keep it as an entry or the root.
    fn close(
        el: Element,
        stack: &mut [Element],
        root: &mut Option<Element>,
        entries: &mut Vec<Parsed>,
    ) {
        if is_entry(&el.name) && stack.len() <= 2 {
            entries.push(Parsed::Entry(el));
        } else if let Some(parent) = stack.last_mut() {
            parent.children.push(el);
        } else if root.is_none() {
            *root = Some(el);
        }
    }

    loop {
        let before = base + reader.buffer_position();
        let event = reader.read_event();
        // A problem at this offset, with what it is; `None` once the event is handled.
        let mut problem: Option<(u64, String)> = None;
        match event {
            Ok(Event::Start(e)) => {
                let line = lines.line_at(before);
                if stack.len() >= MAX_DEPTH {
                    error = Some((
                        line,
                        format!("elements nested deeper than {MAX_DEPTH} levels at line {line}"),
                    ));
                    break;
                }
                let el = element_from(&e, line);
                // Entries do not nest: an entry still open is one whose end tag is
                // missing. It is reported, and the new entry read.
                if is_entry(&el.name) {
                    if let Some(open) = stack.iter().position(|o| is_entry(&o.name)) {
                        let o = &stack[open];
                        let message = format!(
                            "not well-formed XML: <{}> opened at line {} is not closed before the <{}> at line {line}",
                            o.name, o.line, el.name
                        );
                        entries.push(Parsed::Broken(o.line, message));
                        stack.truncate(open);
                    }
                }
                stack.push(el);
            }
            Ok(Event::Empty(e)) => {
                let line = lines.line_at(before);
                let el = element_from(&e, line);
                close(el, &mut stack, &mut root, &mut entries);
            }
            Ok(Event::End(e)) => {
                let name = e.local_name().into_inner().to_string();
                match stack.last() {
                    Some(top) if top.name == name => {
                        if let Some(el) = stack.pop() {
                            close(el, &mut stack, &mut root, &mut entries);
                        }
                    }
                    Some(top) => {
                        let what = format!(
                            "expected `</{}>` (opened at line {}), found `</{name}>`",
                            top.name, top.line
                        );
                        problem = Some((before, what));
                    }
                    None => {
                        problem = Some((before, format!("`</{name}>` closes nothing")));
                    }
                }
            }
            Ok(Event::Text(t)) => match t.as_ref().as_bytes().iter().position(|&b| b == 0) {
                Some(nul) => {
                    problem = Some((
                        before + nul as u64,
                        "a NUL byte, which XML does not allow".into(),
                    ))
                }
                None => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
            },
            Ok(Event::CData(t)) => match t.as_ref().as_bytes().iter().position(|&b| b == 0) {
                // `<![CDATA[` comes before the content.
                Some(nul) => {
                    problem = Some((
                        before + 9 + nul as u64,
                        "a NUL byte, which XML does not allow".into(),
                    ))
                }
                None => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
            },
            Ok(Event::GeneralRef(r)) => {
                if let Some(top) = stack.last_mut() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => top.text.push(c),
                        Ok(None) => match resolve_xml_entity(&r) {
                            Some(s) => top.text.push_str(s),
                            // An undeclared entity (`&nbsp;`) is kept as written.
                            None => {
                                top.text.push('&');
                                top.text.push_str(&r);
                                top.text.push(';');
                            }
                        },
                        Err(e) => problem = Some((before, e.to_string())),
                    }
                }
            }
            Ok(Event::Eof) => {
                if let Some(open) = stack.last() {
                    error = Some((
                        open.line,
                        format!(
                            "not well-formed XML: <{}> opened at line {} is not closed",
                            open.name, open.line
                        ),
                    ));
                }
                break;
            }
            Ok(_) => {} // declaration, comment, processing instruction, doctype
            Err(e) => problem = Some((base + reader.error_position(), e.to_string())),
        }
        let Some((at, what)) = problem else {
            continue;
        };
        let line = lines.line_at(at);
        let column = lines.column_at(at);
        let message = format!("not well-formed XML at line {line}, column {column}: {what}");
        // Go on at the next entry's start tag, dropping the broken entry (or, outside
        // an entry, what was open below the entries' parent).
        let resume = usize::try_from(at)
            .ok()
            .and_then(|at| next_entry_start(text, at + 1));
        let Some(resume) = resume else {
            let rest = "; nothing after it was read";
            error = Some((line, format!("{message}{rest}")));
            break;
        };
        let resume_line = line
            + text[at.min(text.len() as u64) as usize..resume]
                .bytes()
                .filter(|&b| b == b'\n')
                .count() as u64;
        let skipped = format!("{message}; reading goes on at line {resume_line}");
        match stack.iter().position(|o| is_entry(&o.name)) {
            Some(open) => {
                entries.push(Parsed::Broken(line, skipped));
                stack.truncate(open);
            }
            None => {
                entries.push(Parsed::Skipped(line, skipped));
                let keep = stack
                    .iter()
                    .take_while(|o| {
                        ["feed", "rss", "channel"]
                            .iter()
                            .any(|n| o.name.eq_ignore_ascii_case(n))
                    })
                    .count();
                stack.truncate(keep);
            }
        }
        base = resume as u64;
        reader = reader_of(&text[resume..]);
    }
    // Close what is still open: a partial root keeps what it had; an unfinished entry
    // is dropped (it is the one the error is about).
    while let Some(el) = stack.pop() {
        if !is_entry(&el.name) {
            close(el, &mut stack, &mut root, &mut entries);
        }
    }
    Document {
        root,
        entries,
        error,
    }
}

/// Every entry of an arXiv XML document, in order. `Err((line, message))` carries the
/// 1-based line of the problem (the element at fault, else the entry's start tag) and
/// a message starting with `entry N: ` (N 1-based) when it is about an entry.
/// `format` is [`Format::ArxivAtom`] (API responses) or [`Format::ArxivRss`] (listing
/// feeds, RSS 2.0 or Atom).
pub(crate) fn parse(text: &str, format: Format) -> Vec<Result<Paper, (u64, String)>> {
    let doc = parse_document(text);
    let Some(root) = doc.root.as_ref() else {
        let (line, message) = doc
            .error
            .unwrap_or_else(|| (1, "no XML element found".to_string()));
        return vec![Err((line, message))];
    };
    let mut out: Vec<Result<Paper, (u64, String)>> = Vec::new();
    let root_name = root.name.as_str();
    let root_ok = match format {
        Format::ArxivAtom => root_name.eq_ignore_ascii_case("feed"),
        _ => root_name.eq_ignore_ascii_case("feed") || root_name.eq_ignore_ascii_case("rss"),
    };
    if !root_ok {
        let want = if format == Format::ArxivAtom {
            "an Atom <feed>"
        } else {
            "an RSS <rss> or Atom <feed>"
        };
        out.push(Err((
            root.line,
            format!("expected {want} document, found <{root_name}>"),
        )));
        return out;
    }
    let rss = root_name.eq_ignore_ascii_case("rss");
    let listing = format != Format::ArxivAtom;
    let feed_date = feed_date(root, rss);

    let mut n = 0u64;
    for parsed in &doc.entries {
        let entry = match parsed {
            Parsed::Entry(entry) => entry,
            Parsed::Broken(line, m) => {
                n += 1;
                out.push(Err((*line, format!("entry {n}: {m}"))));
                continue;
            }
            Parsed::Skipped(line, m) => {
                out.push(Err((*line, m.clone())));
                continue;
            }
        };
        n += 1;
        let mapped = if rss {
            rss_item(entry, feed_date)
        } else {
            atom_entry(entry, listing, feed_date, format)
        };
        out.push(mapped.map_err(|(line, m)| (line, format!("entry {n}: {m}"))));
    }
    if let Some(e) = doc.error {
        out.push(Err(e));
    }
    out
}

/// The day of a listing feed (RSS `channel/pubDate`, Atom `feed/updated`), which an
/// empty feed (a weekend, a holiday) still has; `None` when the document is not a
/// feed or gives no readable day.
pub(crate) fn listing_day(text: &str) -> Option<NaiveDate> {
    let doc = parse_document(text);
    let root = doc.root?;
    let rss = root.name.eq_ignore_ascii_case("rss");
    feed_date(&root, rss)
}

/// The feed's own day: RSS `channel/pubDate` (or `dc:date`, `lastBuildDate`); Atom
/// `feed/updated`. Unparseable feed dates are ignored here: entries carry their own.
fn feed_date(root: &Element, rss: bool) -> Option<NaiveDate> {
    let (holder, names): (&Element, &[&str]) = if rss {
        (
            root.child("channel")?,
            &["pubDate", "date", "lastBuildDate"],
        )
    } else {
        (root, &["updated"])
    };
    names
        .iter()
        .filter_map(|n| holder.child_text(n))
        .find_map(super::fields::parse_date)
}

/// The date in child `name` of `e`; an error carries that child's line.
fn element_date(e: &Element, name: &str) -> Result<Option<NaiveDate>, (u64, String)> {
    let Some(child) = e.child(name) else {
        return Ok(None);
    };
    match child.text.trim() {
        "" => Ok(None),
        t => date_field(name, t).map_err(|m| (child.line, m)),
    }
}

/// The first candidate that is an arXiv id, else the first one given.
fn pick_id<'a>(candidates: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let candidates: Vec<&str> = candidates
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    candidates
        .iter()
        .find(|c| is_arxiv_id(&canonical_id(c)))
        .or(candidates.first())
        .map(|c| c.to_string())
}

/// `dc:creator` elements hold comma-separated names in arXiv's listing feeds.
fn creators(e: &Element) -> Vec<String> {
    e.children_named("creator")
        .flat_map(|c| split_authors(&c.text))
        .collect()
}

/// An Atom entry. API entries (`listing == false`) give `published` (v1) and
/// `updated` (latest version); listing entries give the announcement day in
/// `published`, which becomes `listed`.
fn atom_entry(
    e: &Element,
    listing: bool,
    feed_date: Option<NaiveDate>,
    format: Format,
) -> Result<Paper, (u64, String)> {
    let id = e.child_text("id");
    let summary = e
        .child_text("summary")
        .or_else(|| e.child_text("content"))
        .unwrap_or("");
    // The arXiv API reports a bad query as a feed with one "Error" entry.
    if id.is_some_and(|i| i.contains("/api/errors")) {
        let m = format!("the arXiv API answered with an error: {summary}");
        return Err((e.line, m));
    }
    let links: Vec<&Element> = e.children_named("link").collect();
    let alternate = links
        .iter()
        .find(|l| l.attr("rel").is_none_or(|r| r == "alternate"))
        .and_then(|l| l.attr("href"));
    let doi_link = links
        .iter()
        .find(|l| l.attr("title") == Some("doi"))
        .and_then(|l| l.attr("href"));
    let prefix = split_listing_prefix(summary);

    let mut authors: Vec<String> = e
        .children_named("author")
        .filter_map(|a| a.child_text("name"))
        .map(str::to_string)
        .collect();
    authors.extend(creators(e));
    let categories = e
        .children_named("category")
        .filter_map(|c| c.attr("term").or(Some(c.text.trim())))
        .map(str::to_string)
        .collect();

    let mut draft = Draft {
        id: pick_id([id, alternate, prefix.id]),
        title: e.child_text("title").map(str::to_string),
        abstract_text: prefix.abstract_text.to_string(),
        authors,
        categories,
        primary: e
            .child("primary_category")
            .and_then(|p| p.attr("term"))
            .map(str::to_string),
        url: alternate
            .or(id.filter(|i| i.starts_with("http")))
            .map(str::to_string),
        doi: e.child_text("doi").or(doi_link).map(str::to_string),
        announce_type: e
            .child_text("announce_type")
            .or(prefix.announce_type)
            .map(str::to_string),
        ..Draft::default()
    };
    if listing {
        draft.listed = match element_date(e, "published")? {
            Some(d) => Some(d),
            None => element_date(e, "updated")?.or(feed_date),
        };
    } else {
        draft.published = element_date(e, "published")?;
        draft.updated = element_date(e, "updated")?;
    }
    draft.finish(format).map_err(|m| (e.line, m))
}

/// An RSS 2.0 item of arXiv's listing feed. `listed` is the item's `pubDate` (else the
/// channel's): the announcement day.
fn rss_item(e: &Element, feed_date: Option<NaiveDate>) -> Result<Paper, (u64, String)> {
    let description = e.child_text("description").unwrap_or("");
    let prefix = split_listing_prefix(description);
    let link = e.child_text("link");
    let mut authors = creators(e);
    if authors.is_empty() {
        authors = e
            .children_named("author")
            .flat_map(|a| split_authors(&a.text))
            .collect();
    }
    let listed = match element_date(e, "pubDate")? {
        Some(d) => Some(d),
        None => element_date(e, "date")?.or(feed_date),
    };
    Draft {
        id: pick_id([e.child_text("guid"), link, prefix.id]),
        title: e.child_text("title").map(str::to_string),
        abstract_text: prefix.abstract_text.to_string(),
        authors,
        categories: e
            .children_named("category")
            .map(|c| c.text.trim().to_string())
            .collect(),
        listed,
        url: link.map(str::to_string),
        doi: e.child_text("doi").map(str::to_string),
        announce_type: e
            .child_text("announce_type")
            .or(prefix.announce_type)
            .map(str::to_string),
        ..Draft::default()
    }
    .finish(Format::ArxivRss)
    .map_err(|m| (e.line, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(out: &[Result<Paper, (u64, String)>]) -> Vec<&Paper> {
        out.iter().filter_map(|r| r.as_ref().ok()).collect()
    }

    /// The arXiv API's export format before 2025: a namespace declared on
    /// `primary_category`, title and summary with hard line breaks, a DOI only as a
    /// link, an author affiliation, http links.
    const OLD_API_ENTRY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3Dall%3Aelectron" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=all:electron</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <updated>2007-10-08T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1000</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/abs/hep-ex/0307015v1</id>
    <updated>2003-07-07T13:46:39-04:00</updated>
    <published>2003-07-07T13:46:39-04:00</published>
    <title>Multi-Electron Production at High Transverse Momenta in ep Collisions at
  HERA</title>
    <summary>  Multi-electron production is studied at high electron transverse momentum
in positron- and electron-proton collisions &amp; more.
</summary>
    <author>
      <name>H1 Collaboration</name>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">DESY</arxiv:affiliation>
    </author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.1140/epjc/s2003-01326-x</arxiv:doi>
    <link title="doi" href="http://dx.doi.org/10.1140/epjc/s2003-01326-x" rel="related"/>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">23 pages, 8 figures and 4 tables</arxiv:comment>
    <link href="http://arxiv.org/abs/hep-ex/0307015v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/hep-ex/0307015v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="hep-ex" scheme="http://arxiv.org/schemas/atom"/>
    <category term="hep-ex" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>"#;

    #[test]
    fn old_api_format() {
        let out = parse(OLD_API_ENTRY, Format::ArxivAtom);
        assert_eq!(out.len(), 1, "{out:?}");
        let p = out[0].as_ref().unwrap();
        assert_eq!(p.id, "hep-ex/0307015");
        assert_eq!(
            p.title,
            "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA"
        );
        assert!(p
            .abstract_text
            .starts_with("Multi-electron production is studied"));
        assert!(p.abstract_text.ends_with("collisions & more."));
        assert_eq!(p.authors, ["H1 Collaboration"]);
        assert_eq!(p.categories, ["hep-ex"]);
        assert_eq!(p.doi.as_deref(), Some("10.1140/epjc/s2003-01326-x"));
        assert_eq!(
            p.url.as_deref(),
            Some("http://arxiv.org/abs/hep-ex/0307015v1")
        );
        assert_eq!(p.published, NaiveDate::from_ymd_opt(2003, 7, 7));
        assert_eq!(p.listed, None);
    }

    #[test]
    fn doi_from_link_when_no_element() {
        let doc = OLD_API_ENTRY.replace(
            r#"<arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.1140/epjc/s2003-01326-x</arxiv:doi>"#,
            "",
        );
        let out = parse(&doc, Format::ArxivAtom);
        assert_eq!(
            out[0].as_ref().unwrap().doi.as_deref(),
            Some("10.1140/epjc/s2003-01326-x")
        );
    }

    #[test]
    fn api_error_entry() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id><title>Error</title><summary>incorrect id format for 1234.12345</summary></entry></feed>"#;
        let out = parse(doc, Format::ArxivAtom);
        let (n, m) = out[0].as_ref().unwrap_err();
        assert_eq!(*n, 1);
        assert!(
            m.contains("the arXiv API answered with an error: incorrect id format for 1234.12345"),
            "{m}"
        );
    }

    #[test]
    fn listing_atom_flavour() {
        let doc = r#"<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns="http://www.w3.org/2005/Atom">
  <id>http://rss.arxiv.org/atom/cs</id>
  <updated>2026-03-23T04:00:05.907047+00:00</updated>
  <entry>
    <id>oai:arXiv.org:2603.19236v1</id>
    <title>Retrieval Agents for Science</title>
    <updated>2026-03-23T04:00:05.965050+00:00</updated>
    <link href="https://arxiv.org/abs/2603.19236" rel="alternate" type="text/html"/>
    <summary>arXiv:2603.19236v1 Announce Type: new
Abstract: Agentic ranking for frontier papers.</summary>
    <category term="cs.CL"/>
    <category term="cs.IR"/>
    <published>2026-03-23T00:00:00-04:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
    <dc:creator>A Researcher, B Curator</dc:creator>
  </entry>
  <entry>
    <id>oai:arXiv.org:2203.01250v3</id>
    <title>Mass concentration</title>
    <summary>arXiv:2203.01250v3 Announce Type: replace-cross
Abstract: The announcement abstract.</summary>
    <category term="math.AP"/>
  </entry>
</feed>"#;
        let out = parse(doc, Format::ArxivRss);
        let papers = ok(&out);
        assert_eq!(papers.len(), 2);
        let p = papers[0];
        assert_eq!(p.id, "2603.19236");
        assert_eq!(p.abstract_text, "Agentic ranking for frontier papers.");
        assert_eq!(p.announce_type.as_deref(), Some("new"));
        assert_eq!(p.authors, ["A Researcher", "B Curator"]);
        assert_eq!(p.categories, ["cs.CL", "cs.IR"]);
        assert_eq!(p.listed, NaiveDate::from_ymd_opt(2026, 3, 23));
        assert_eq!((p.published, p.updated), (None, None));
        assert_eq!(p.source, "arxiv-rss");
        // No element: the announce type comes from the prefix, the day from the feed.
        let q = papers[1];
        assert_eq!(q.announce_type.as_deref(), Some("replace-cross"));
        assert_eq!(q.listed, NaiveDate::from_ymd_opt(2026, 3, 23));
    }

    #[test]
    fn rss_root_is_not_an_api_response() {
        let out = parse("<rss><channel></channel></rss>", Format::ArxivAtom);
        let (_, m) = out[0].as_ref().unwrap_err();
        assert_eq!(m, "expected an Atom <feed> document, found <rss>");
    }

    #[test]
    fn entries_before_a_syntax_error_are_kept() {
        let doc = "<rss><channel>\n<item><title>A</title><guid>oai:arXiv.org:2609.00001v1</guid></item>\n<item><title>B</title></item>\n<item><title>C</tit";
        let out = parse(doc, Format::ArxivRss);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0].as_ref().unwrap().id, "2609.00001");
        let (line, m) = out[1].as_ref().unwrap_err();
        assert_eq!((*line, m.as_str()), (3, "entry 2: missing id"));
        let (line, m) = out[2].as_ref().unwrap_err();
        assert_eq!(*line, 4);
        assert!(m.starts_with("not well-formed XML"), "{m}");
    }

    #[test]
    fn entities_cdata_and_char_refs() {
        let doc = "<rss><channel><item><guid>2609.00001</guid><title><![CDATA[A <b> & C]]> &#233;&#x41; &nbsp;</title></item></channel></rss>";
        let out = parse(doc, Format::ArxivRss);
        assert_eq!(out[0].as_ref().unwrap().title, "A <b> & C éA &nbsp;");
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let doc = format!("<feed>{}", "<a>".repeat(100_000));
        let out = parse(&doc, Format::ArxivAtom);
        let (_, m) = out.last().unwrap().as_ref().unwrap_err();
        assert!(m.contains("nested deeper than 64"), "{m}");
    }

    #[test]
    fn empty_and_junk_documents() {
        for doc in [
            "",
            "   ",
            "not xml at all",
            "<",
            "<feed",
            "</feed>",
            "<?xml version='1.0'?>",
        ] {
            let out = parse(doc, Format::ArxivAtom);
            assert!(
                !out.is_empty() && out.iter().all(Result::is_err),
                "{doc:?}: {out:?}"
            );
        }
    }
}
