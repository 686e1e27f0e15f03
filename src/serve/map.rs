//! The Map page's picture: a day's papers and a user's likes projected to 2-D by
//! principal component analysis of their vectors, drawn as SVG (maud escapes the
//! titles).

use chrono::NaiveDate;
use maud::{html, Markup};

use crate::library::profiles::Profile;
use crate::library::Library;

/// One paper on the map, in [0, 1]².
pub struct Point {
    pub id: String,
    pub title: String,
    pub x: f32,
    pub y: f32,
    pub liked: bool,
}

/// Largest number of papers drawn (a day rarely holds more).
const MAX_POINTS: usize = 2000;

/// The papers listed on `day` and the liked papers of `profile`.
pub fn points(lib: &Library, profile: &Profile, day: NaiveDate) -> Vec<Point> {
    let liked: std::collections::HashSet<&str> =
        profile.likes.iter().map(|m| m.id.as_str()).collect();
    let mut chosen: Vec<(&str, &str, &[f32], bool)> = Vec::new();
    // From the papers index: only the chosen papers' records are parsed.
    for k in 0..lib.len() {
        let like = liked.contains(lib.id_at(k));
        if like || lib.listed_at(k) == Some(day) {
            if let Some(p) = lib.paper_at(k) {
                chosen.push((&p.id, &p.title, lib.vector_at(k), like));
            }
        }
        if chosen.len() >= MAX_POINTS {
            break;
        }
    }
    let rows: Vec<&[f32]> = chosen.iter().map(|c| c.2).collect();
    let xy = project(&rows);
    chosen
        .into_iter()
        .zip(xy)
        .map(|((id, title, _, liked), (x, y))| Point {
            id: id.to_string(),
            title: title.to_string(),
            x,
            y,
            liked,
        })
        .collect()
}

/// The rows' coordinates on their first two principal components, scaled to [0, 1].
pub fn project(rows: &[&[f32]]) -> Vec<(f32, f32)> {
    let n = rows.len();
    let Some(d) = rows.first().map(|r| r.len()) else {
        return Vec::new();
    };
    let mut mean = vec![0f32; d];
    for r in rows {
        for (m, x) in mean.iter_mut().zip(r.iter()) {
            *m += x / n as f32;
        }
    }
    let centred: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let first = component(&centred, d, None);
    let second = component(&centred, d, Some(&first));
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let raw: Vec<(f32, f32)> = centred
        .iter()
        .map(|r| (dot(r, &first), dot(r, &second)))
        .collect();
    let scale = |vals: Vec<f32>| -> Vec<f32> {
        let lo = vals.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let span = if hi - lo > 1e-9 { hi - lo } else { 1.0 };
        vals.iter().map(|v| (v - lo) / span).collect()
    };
    let xs = scale(raw.iter().map(|p| p.0).collect());
    let ys = scale(raw.iter().map(|p| p.1).collect());
    xs.into_iter().zip(ys).collect()
}

/// The leading eigenvector of the rows' covariance (power iteration), orthogonal to
/// `not` when given.
fn component(rows: &[Vec<f32>], d: usize, not: Option<&[f32]>) -> Vec<f32> {
    // A fixed, uneven start: the same picture on every load.
    let mut v: Vec<f32> = (0..d).map(|i| 1.0 + (i % 7) as f32 * 0.1).collect();
    for _ in 0..60 {
        if let Some(u) = not {
            let p: f32 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm < 1e-12 {
            break;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        let mut next = vec![0f32; d];
        for r in rows {
            let s: f32 = r.iter().zip(&v).map(|(a, b)| a * b).sum();
            next.iter_mut().zip(r).for_each(|(n, x)| *n += s * x);
        }
        v = next;
    }
    if let Some(u) = not {
        let p: f32 = v.iter().zip(u).map(|(a, b)| a * b).sum();
        v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

/// The map as inline SVG: each point a link to its paper, its title as a tooltip.
pub fn svg(points: &[Point]) -> Markup {
    let (w, h, pad) = (800.0f32, 560.0f32, 16.0f32);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) role="img" aria-label="map of papers" {
            rect x="0" y="0" width=(w) height=(h) fill="#fbfaf7" {}
            @for p in points.iter().filter(|p| !p.liked).chain(points.iter().filter(|p| p.liked)) {
                a href=(format!("/papers/{}", super::pages::url_encode(&p.id))) {
                    circle cx=(format!("{:.1}", pad + p.x * (w - 2.0 * pad)))
                        cy=(format!("{:.1}", pad + (1.0 - p.y) * (h - 2.0 * pad)))
                        r=(if p.liked { "7" } else { "5" })
                        fill=(if p.liked { "#c0392b" } else { "#7f8c8d" })
                        fill-opacity=(if p.liked { "0.9" } else { "0.6" }) {
                        title { (crate::tex::to_unicode(&p.title)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_separates_the_main_direction() {
        // Two clusters along axis 0, spread along axis 1 less.
        let rows: Vec<Vec<f32>> = (0..20)
            .map(|i| {
                let side = if i < 10 { -1.0 } else { 1.0 };
                vec![side * 5.0, (i % 5) as f32 * 0.3, 0.01 * i as f32]
            })
            .collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let xy = project(&refs);
        let left: Vec<f32> = xy[..10].iter().map(|p| p.0).collect();
        let right: Vec<f32> = xy[10..].iter().map(|p| p.0).collect();
        let split = left
            .iter()
            .all(|l| right.iter().all(|r| (l - r).abs() > 0.9));
        assert!(split, "{xy:?}");
        assert!(xy
            .iter()
            .all(|p| (0.0..=1.0).contains(&p.0) && (0.0..=1.0).contains(&p.1)));
    }
}
