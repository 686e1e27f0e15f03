//! The digest as a mail: composing it (multipart/alternative, plain text and HTML, the
//! same items and reasons best first) and handing it to the SMTP server.
//!
//! Nothing from a paper goes into a header: the subject names only the user (a checked
//! profile name), the day and the count, so a title with CR/LF cannot add a header.
//! Both parts are base64-encoded, so no line of a title or abstract can end the body
//! or look like a boundary. The HTML part is `render`'s HTML digest (every text
//! escaped) with the unsubscribe line added.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, Message, SmtpTransport, Transport};

use crate::config::{MailSettings, TlsMode};
use crate::library::profiles::check_email;
use crate::paper::is_arxiv_id;
use crate::render::{self, Format, Item, Listing};
use crate::{Error, Result};

/// Authors named per paper in the plain-text part before "et al.".
const TEXT_AUTHORS: usize = 5;

/// The SMTP transport for `settings`: `smtps://` implicit TLS, `smtp://` STARTTLS
/// (required, or opportunistic on loopback), the settings' timeout per command.
pub fn transport(settings: &MailSettings) -> Result<SmtpTransport> {
    let url = &settings.smtp;
    let tls_params = || {
        TlsParameters::new(url.host.clone())
            .map_err(|e| Error::Invalid(format!("TLS for SMTP host {}: {e}", url.host)))
    };
    let tls = match url.tls {
        TlsMode::Implicit => Tls::Wrapper(tls_params()?),
        TlsMode::Required => Tls::Required(tls_params()?),
        TlsMode::Opportunistic => Tls::Opportunistic(tls_params()?),
        TlsMode::None => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(url.host.clone())
        .port(url.port)
        .tls(tls)
        .timeout(Some(settings.timeout));
    if let Some(user) = &url.user {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            url.password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

/// `address` as a mail address, refused when it is not one checked address (a CR/LF in
/// a hand-edited profile included).
pub fn recipient(address: &str) -> Result<Address> {
    check_email(address)?;
    address
        .parse::<Address>()
        .map_err(|e| Error::Invalid(format!("mail address {address:?}: {e}")))
}

/// The subject: `paperscout: 12 papers for ada on 2026-05-29`.
pub fn subject(listing: &Listing, user: &str) -> String {
    let n = listing.items.len();
    let day = listing
        .date
        .map_or_else(String::new, |d| format!(" on {d}"));
    format!(
        "paperscout: {n} paper{} for {user}{day}",
        if n == 1 { "" } else { "s" }
    )
}

/// The one-line unsubscribe hint.
pub fn unsubscribe_hint(user: &str) -> String {
    format!("To stop these emails: paperscout profile {user} email --remove")
}

/// The digest mail of `user`'s `listing` to `to`.
pub fn compose(from: &Mailbox, to: &Address, user: &str, listing: &Listing) -> Result<Message> {
    let part = |kind: ContentType, body: String| {
        SinglePart::builder()
            .header(kind)
            .header(ContentTransferEncoding::Base64)
            .body(body)
    };
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to.clone()))
        .subject(subject(listing, user))
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, plain_text(listing, user)))
                .singlepart(part(ContentType::TEXT_HTML, html_body(listing, user))),
        )
        .map_err(|e| Error::Invalid(format!("composing the mail to {to}: {e}")))
}

/// The plain-text part: heading, then per paper its title, arXiv link, authors and
/// reason, best first; the unsubscribe hint last.
pub fn plain_text(listing: &Listing, user: &str) -> String {
    let mut out = String::new();
    out.push_str(&subject(listing, user));
    out.push_str("\n\n");
    for item in &listing.items {
        out.push_str(&format!("{}. {}\n", item.rank, one_line(&item.title)));
        if let Some(url) = link(item) {
            out.push_str(&format!("   {url}\n"));
        }
        let authors: Vec<String> = item
            .authors
            .iter()
            .map(|a| one_line(a))
            .filter(|a| !a.is_empty())
            .collect();
        if !authors.is_empty() {
            let mut line = authors[..authors.len().min(TEXT_AUTHORS)].join(", ");
            if authors.len() > TEXT_AUTHORS {
                line.push_str(" et al.");
            }
            out.push_str(&format!("   {line}\n"));
        }
        match &item.collection {
            Some(c) => out.push_str(&format!(
                "   {} · score {:.2} · collection {}\n",
                item.id,
                item.score,
                one_line(c)
            )),
            None => out.push_str(&format!("   {} · score {:.2}\n", item.id, item.score)),
        }
        if let Some(b) = &item.because {
            let why = match &b.id {
                Some(id) => {
                    let title = one_line(&b.title);
                    let title = if title.is_empty() {
                        one_line(id)
                    } else {
                        title
                    };
                    format!("Because you liked {title}")
                }
                None => format!("Because of your interest \"{}\"", one_line(&b.title)),
            };
            out.push_str(&format!("   {why}: similarity {:.2}\n", b.similarity));
        }
        out.push('\n');
    }
    out.push_str("-- \n");
    out.push_str(&unsubscribe_hint(user));
    out.push('\n');
    out
}

/// The HTML part: `render`'s HTML digest with the unsubscribe hint before `</body>`.
pub fn html_body(listing: &Listing, user: &str) -> String {
    let page = render::render(listing, Format::Html);
    let hint = format!(
        "<hr>\n<p class=\"meta\">{}</p>\n</body>",
        escape_html(&unsubscribe_hint(user))
    );
    match page.rfind("</body>") {
        Some(at) => format!("{}{hint}{}", &page[..at], &page[at + "</body>".len()..]),
        None => format!("{page}{hint}\n"),
    }
}

/// Where an item links: its arXiv abs page for an arXiv id, else its own http(s) page.
fn link(item: &Item) -> Option<String> {
    if is_arxiv_id(&item.id) {
        return Some(format!("https://arxiv.org/abs/{}", item.id));
    }
    let url = item.url.as_deref()?.trim();
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| url.to_string())
}

/// `s` on one line: runs of whitespace (CR/LF included) become one space, other
/// control characters go.
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Hand `message` to the server. The error says what the server answered.
pub fn send(transport: &SmtpTransport, message: &Message) -> std::result::Result<(), String> {
    transport.send(message).map(|_| ()).map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    })
}
