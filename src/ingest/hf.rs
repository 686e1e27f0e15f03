//! The Hugging Face `/api/daily_papers` response: one JSON array whose entries nest the
//! paper under `paper`. The document is small (tens of entries) and read whole; entries
//! are numbered from 1 in errors. An entry that cannot be mapped is an error for that
//! entry only; a syntax error ends the document after the entries read before it.

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::fields::{date_field, Draft};
use super::json::{author_list, serde_message};
use super::Format;
use crate::paper::Paper;

/// Every entry of the document, in order: a `Paper` or the message for that entry.
/// `Err((entry, message))` items carry the 1-based entry number.
pub(crate) fn parse(text: &str) -> Vec<Result<Paper, (u64, String)>> {
    let mut entries: Vec<Value> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let syntax = Entries(&mut entries)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .err();
    let mut out: Vec<Result<Paper, (u64, String)>> = entries
        .into_iter()
        .zip(1u64..)
        .map(|(v, n)| entry(&v).map_err(|m| (n, format!("entry {n}: {m}"))))
        .collect();
    if let Some(e) = syntax {
        let n = out.len() as u64 + 1;
        out.push(Err((
            n,
            format!(
                "invalid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                serde_message(&e)
            ),
        )));
    }
    out
}

/// Collects the array's elements one by one, so the entries before a syntax error
/// are kept.
struct Entries<'a>(&'a mut Vec<Value>);

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of daily-paper entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.0.push(v);
        }
        Ok(())
    }
}

/// One entry. `listed` is the day Hugging Face listed the paper on its daily page
/// (`paper.submittedOnDailyAt`, else the entry's `publishedAt`); `published` is the
/// day of arXiv's v1 (`paper.publishedAt`).
fn entry(v: &Value) -> Result<Paper, String> {
    let Value::Object(outer) = v else {
        return Err("expected an object with a `paper` object".into());
    };
    let Some(Value::Object(paper)) = outer.get("paper") else {
        return Err("missing the `paper` object".into());
    };
    let authors = match paper.get("authors") {
        None | Some(Value::Null) => Vec::new(),
        Some(a) => author_list(a).map_err(|m| format!("field `paper.authors`: {m}"))?,
    };
    let listed = match text(paper, "paper", "submittedOnDailyAt")? {
        Some(s) => date_field("paper.submittedOnDailyAt", &s)?,
        None => match text(outer, "", "publishedAt")? {
            Some(s) => date_field("publishedAt", &s)?,
            None => None,
        },
    };
    let published = match text(paper, "paper", "publishedAt")? {
        Some(s) => date_field("paper.publishedAt", &s)?,
        None => None,
    };
    Draft {
        id: text(paper, "paper", "id")?,
        title: text(paper, "paper", "title")?.or(text(outer, "", "title")?),
        abstract_text: text(paper, "paper", "summary")?
            .or(text(outer, "", "summary")?)
            .unwrap_or_default(),
        authors,
        listed,
        published,
        ..Draft::default()
    }
    .finish(Format::HfDailyPapers)
}

fn text(obj: &Map<String, Value>, parent: &str, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => {
            let dot = if parent.is_empty() { "" } else { "." };
            Err(format!("field `{parent}{dot}{key}`: expected a string"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn entry_fields() {
        let doc = r#"[{"paper": {"id": "2606.00467", "title": "On the Limits",
            "summary": "LLMs.", "publishedAt": "2026-05-30T00:00:00.000Z",
            "submittedOnDailyAt": "2026-06-12T00:00:00.000Z",
            "authors": [{"_id": "x", "name": "Etienne Casanova", "hidden": false}]},
            "publishedAt": "2026-05-29T20:00:00.000Z", "title": "On the Limits"}]"#;
        let out = parse(doc);
        assert_eq!(out.len(), 1);
        let p = out[0].as_ref().unwrap();
        assert_eq!(p.id, "2606.00467");
        assert_eq!(p.authors, ["Etienne Casanova"]);
        assert_eq!(p.listed, NaiveDate::from_ymd_opt(2026, 6, 12));
        assert_eq!(p.published, NaiveDate::from_ymd_opt(2026, 5, 30));
        assert_eq!(p.source, "hf-daily");
    }

    #[test]
    fn listed_falls_back_to_entry_published_at() {
        let out = parse(
            r#"[{"paper": {"id": "2606.1", "title": "T"}, "publishedAt": "2026-05-29T20:00:00.000Z"}]"#,
        );
        assert_eq!(
            out[0].as_ref().unwrap().listed,
            NaiveDate::from_ymd_opt(2026, 5, 29)
        );
    }

    #[test]
    fn bad_entries_and_truncation() {
        let doc = r#"[{"paper": {"id": "2606.00001", "title": "Good"}}, {"nopaper": 1}, 3, {"paper": {"id": "2606.00002", "title": "Also good"}}, {"paper": "#;
        let out = parse(doc);
        let summary: Vec<String> = out
            .iter()
            .map(|r| match r {
                Ok(p) => p.id.clone(),
                Err((n, m)) => format!("{n}:{}", m.split(':').next().unwrap_or("")),
            })
            .collect();
        // The syntax error is reported where the text ends.
        let at_end = format!("5:invalid JSON at line 1 column {}", doc.len());
        assert_eq!(
            summary,
            [
                "2606.00001",
                "2:entry 2",
                "3:entry 3",
                "2606.00002",
                at_end.as_str()
            ]
        );
        let (_, m) = out[4].as_ref().unwrap_err();
        assert!(m.ends_with(": EOF while parsing a value"), "{m}");
    }

    #[test]
    fn not_an_array() {
        let out = parse(r#"{"paper": {}}"#);
        assert_eq!(out.len(), 1);
        let (n, m) = out[0].as_ref().unwrap_err();
        assert_eq!(*n, 1);
        assert!(
            m.contains("expected a JSON array of daily-paper entries"),
            "{m}"
        );
    }
}
