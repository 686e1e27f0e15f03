//! arXiv's OAI-PMH responses: one page of `verb=ListRecords` with
//! `metadataPrefix=arXiv` (`<OAI-PMH><ListRecords><record>…<resumptionToken>`). The
//! page is read whole with the listing-feed tree reader (`feeds`), records are mapped
//! one by one (a bad record is an error for that record only), and what a harvester
//! needs besides the papers is kept apart: the resumption token, the newest datestamp,
//! the identifiers of deleted records and the protocol error, if the page is one.
//! Following tokens, flow control (HTTP 503) and the high-water mark are `fetch`'s.
//!
//! Mapping of `metadata/arXiv` (the arXiv metadata format, `arxiv.org/OAI/arXiv/`):
//! `id` (else the header's `oai:arXiv.org:ID` identifier), `title`, `abstract`,
//! `authors/author` (`forenames keyname suffix`), `categories` (space-separated,
//! primary first), `created` → `published` (v1 day), `updated` → `updated` (latest
//! version, absent for one-version papers), `doi` (the first, when several). No
//! `listed`: OAI-PMH does not say when a paper was announced (the datestamp is the
//! last change of the metadata, not an announcement day), and no `url`.

use chrono::NaiveDate;

use super::feeds::{parse_document, Element};
use super::fields::{date_field, parse_date, split_categories, Draft};
use super::Format;
use crate::paper::{canonical_id, Paper};

/// A protocol error the page reports instead of records (`<error code="…">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OaiError {
    pub code: String,
    pub message: String,
}

impl OaiError {
    /// `noRecordsMatch`: the window holds nothing, which for a harvester is "nothing
    /// new", not a failure.
    pub(crate) fn is_no_records(&self) -> bool {
        self.code == "noRecordsMatch"
    }
}

/// One parsed page.
#[derive(Debug, Default)]
pub(crate) struct OaiPage {
    /// Every record that is not deleted, in page order; `Err((record, message))` carries
    /// the 1-based record number on the page.
    pub records: Vec<Result<Paper, (u64, String)>>,
    /// Canonical ids of the records whose header says `status="deleted"`.
    pub deleted: Vec<String>,
    /// The newest `header/datestamp` on the page, deleted records included.
    pub latest_datestamp: Option<NaiveDate>,
    /// The resumption token, when there is a next page (an empty token ends the list).
    pub token: Option<String>,
    /// `completeListSize` of the token, when given.
    pub complete_list_size: Option<u64>,
    /// The protocol error, when the page is one.
    pub error: Option<OaiError>,
    /// The well-formedness error that ended the page, or why it is not an OAI-PMH page.
    pub syntax: Option<String>,
}

/// Parse one OAI-PMH page. Never fails: what went wrong is in `syntax`, `error` and the
/// `Err` records.
pub(crate) fn parse_page(text: &str) -> OaiPage {
    let doc = parse_document(text);
    let mut page = OaiPage {
        syntax: doc.error.map(|(line, m)| format!("line {line}: {m}")),
        ..OaiPage::default()
    };
    let Some(root) = doc.root else {
        page.syntax
            .get_or_insert_with(|| "no XML element found".to_string());
        return page;
    };
    if !root.name.eq_ignore_ascii_case("OAI-PMH") {
        page.syntax = Some(format!(
            "expected an OAI-PMH response (<OAI-PMH>), found <{}>",
            root.name
        ));
        return page;
    }
    if let Some(e) = root.child("error") {
        page.error = Some(OaiError {
            code: e.attr("code").unwrap_or("").trim().to_string(),
            message: crate::paper::collapse_whitespace(&e.text),
        });
    }
    let Some(list) = root.child("ListRecords") else {
        return page;
    };
    for (record, n) in list.children_named("record").zip(1u64..) {
        let Some(header) = record.child("header") else {
            page.records.push(Err((
                n,
                format!("record {n} (line {}): no <header>", record.line),
            )));
            continue;
        };
        if let Some(day) = header.child_text("datestamp").and_then(parse_date) {
            page.latest_datestamp = page.latest_datestamp.max(Some(day));
        }
        if header
            .attr("status")
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("deleted"))
        {
            if let Some(id) = header.child_text("identifier") {
                page.deleted.push(canonical_id(id));
            }
            continue;
        }
        let mapped = arxiv_record(record, header);
        page.records
            .push(mapped.map_err(|m| (n, format!("record {n} (line {}): {m}", record.line))));
    }
    if let Some(t) = list.child("resumptionToken") {
        let token = t.text.trim();
        if !token.is_empty() {
            page.token = Some(token.to_string());
        }
        page.complete_list_size = t
            .attr("completeListSize")
            .and_then(|s| s.trim().parse().ok());
    }
    page
}

/// The records of a page as the `arxiv-oai` format yields them: the papers, then a
/// protocol error other than `noRecordsMatch`, then the syntax error, each an error item.
pub(crate) fn parse(text: &str) -> Vec<Result<Paper, (u64, String)>> {
    let page = parse_page(text);
    let mut out = page.records;
    if let Some(e) = page.error.filter(|e| !e.is_no_records()) {
        let n = out.len() as u64 + 1;
        out.push(Err((
            n,
            format!("OAI-PMH error `{}`: {}", e.code, e.message),
        )));
    }
    if let Some(s) = page.syntax {
        let n = out.len() as u64 + 1;
        out.push(Err((n, s)));
    }
    out
}

/// One record with `metadata/arXiv`.
fn arxiv_record(record: &Element, header: &Element) -> Result<Paper, String> {
    let Some(metadata) = record.child("metadata") else {
        return Err("no <metadata> (and the header is not marked deleted)".into());
    };
    let Some(meta) = metadata.child("arXiv") else {
        let found = metadata
            .children
            .first()
            .map_or("nothing".to_string(), |c| format!("<{}>", c.name));
        return Err(format!(
            "expected metadata in the arXiv format (<arXiv>, metadataPrefix=arXiv), found {found}"
        ));
    };
    let authors = meta
        .child("authors")
        .map(|a| a.children_named("author").map(author_name).collect())
        .unwrap_or_default();
    let date = |name: &str| match meta.child_text(name) {
        Some(t) => date_field(name, t),
        None => Ok(None),
    };
    Draft {
        id: meta
            .child_text("id")
            .or_else(|| header.child_text("identifier"))
            .map(str::to_string),
        title: meta.child_text("title").map(str::to_string),
        abstract_text: meta.child_text("abstract").unwrap_or("").to_string(),
        authors,
        categories: meta
            .child_text("categories")
            .map(split_categories)
            .unwrap_or_default(),
        published: date("created")?,
        updated: date("updated")?,
        doi: meta.child_text("doi").map(str::to_string),
        ..Draft::default()
    }
    .finish(Format::ArxivOai)
}

/// `forenames keyname suffix`, whichever are there.
fn author_name(a: &Element) -> String {
    ["forenames", "keyname", "suffix"]
        .iter()
        .filter_map(|n| a.child_text(n))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
<responseDate>2026-03-24T10:00:00Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXiv" set="cs">https://oaipmh.arxiv.org/oai</request>
<ListRecords>
<record><header><identifier>oai:arXiv.org:2603.00001</identifier><datestamp>2026-03-20</datestamp><setSpec>cs</setSpec></header>
<metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2603.00001</id><created>2026-03-01</created><updated>2026-03-19</updated>
<authors><author><keyname>Lovelace</keyname><forenames>Ada</forenames></author><author><keyname>Collaboration</keyname></author><author><keyname>King</keyname><forenames>M. L.</forenames><suffix>Jr</suffix></author></authors>
<title>A   title
  broken</title><categories>cs.IR cs.CL</categories><doi>10.1/a 10.2/b</doi><abstract>  An abstract.
</abstract></arXiv></metadata></record>
<record><header status="deleted"><identifier>oai:arXiv.org:2603.00002</identifier><datestamp>2026-03-22</datestamp></header></record>
<record><header><identifier>oai:arXiv.org:2603.00003</identifier><datestamp>2026-03-21</datestamp></header>
<metadata><arXiv><id>2603.00003</id></arXiv></metadata></record>
<resumptionToken cursor="0" completeListSize="3">tok|1</resumptionToken>
</ListRecords>
</OAI-PMH>"#;

    #[test]
    fn page_fields() {
        let page = parse_page(PAGE);
        assert_eq!(page.syntax, None);
        assert_eq!(page.error, None);
        assert_eq!(page.records.len(), 2, "{:?}", page.records);
        let p = page.records[0].as_ref().unwrap();
        assert_eq!(p.id, "2603.00001");
        assert_eq!(p.title, "A title broken");
        assert_eq!(p.abstract_text, "An abstract.");
        assert_eq!(
            p.authors,
            ["Ada Lovelace", "Collaboration", "M. L. King Jr"]
        );
        assert_eq!(p.categories, ["cs.IR", "cs.CL"]);
        assert_eq!(p.published, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(p.updated, NaiveDate::from_ymd_opt(2026, 3, 19));
        assert_eq!(p.doi.as_deref(), Some("10.1/a"));
        assert_eq!(p.listed, None);
        assert_eq!(p.source, "arxiv-oai");
        let (n, m) = page.records[1].as_ref().unwrap_err();
        assert_eq!(*n, 3);
        assert!(m.starts_with("record 3 (line "), "{m}");
        assert!(m.ends_with("2603.00003: missing title"), "{m}");
        assert_eq!(page.deleted, ["2603.00002"]);
        assert_eq!(page.latest_datestamp, NaiveDate::from_ymd_opt(2026, 3, 22));
        assert_eq!(page.token.as_deref(), Some("tok|1"));
        assert_eq!(page.complete_list_size, Some(3));
    }

    #[test]
    fn empty_token_ends_the_list() {
        let doc = PAGE.replace(
            r#"<resumptionToken cursor="0" completeListSize="3">tok|1</resumptionToken>"#,
            r#"<resumptionToken cursor="2" completeListSize="3"/>"#,
        );
        assert_eq!(parse_page(&doc).token, None);
    }

    #[test]
    fn protocol_errors() {
        let doc = r#"<OAI-PMH><responseDate>x</responseDate><error code="noRecordsMatch">The combination of the values of the from, until, set and metadataPrefix arguments results in an empty list.</error></OAI-PMH>"#;
        let page = parse_page(doc);
        assert!(page.error.as_ref().unwrap().is_no_records());
        assert!(page.records.is_empty());
        assert!(parse(doc).is_empty());
        let doc = r#"<OAI-PMH><error code="badResumptionToken">expired</error></OAI-PMH>"#;
        let out = parse(doc);
        let (_, m) = out[0].as_ref().unwrap_err();
        assert_eq!(m, "OAI-PMH error `badResumptionToken`: expired");
    }

    #[test]
    fn other_metadata_formats_are_refused() {
        let doc = r#"<OAI-PMH><ListRecords><record><header><identifier>oai:arXiv.org:2603.00001</identifier></header><metadata><dc><title>T</title></dc></metadata></record></ListRecords></OAI-PMH>"#;
        let out = parse(doc);
        let (_, m) = out[0].as_ref().unwrap_err();
        assert!(m.contains("expected metadata in the arXiv format"), "{m}");
        assert!(m.contains("found <dc>"), "{m}");
    }

    #[test]
    fn not_oai_and_broken() {
        let page = parse_page("<html><body>Service unavailable</body></html>");
        assert_eq!(
            page.syntax.as_deref(),
            Some("expected an OAI-PMH response (<OAI-PMH>), found <html>")
        );
        let cut = &PAGE[..PAGE
            .find("<record><header><identifier>oai:arXiv.org:2603.00003")
            .unwrap()
            + 20];
        let page = parse_page(cut);
        let ok: Vec<&str> = page
            .records
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ok, ["2603.00001"]);
        assert!(page.syntax.unwrap().contains("not well-formed XML"));
    }
}
