//! Reports: the human table, the JSON file and the SVG chart of frame rate and CPU over time.
//!
//! The chart is written by hand rather than with plotters: plotters lays text out with font
//! metrics, which needs its `ttf` feature (font-kit, fontconfig and freetype from the system) or
//! a bundled font file; a two-line chart with axes is short to write as SVG directly, and the
//! viewer renders the labels.
//!
//! Owns formatting only; the numbers come from the modes.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

/// One point of a run's timeline.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Sample {
    /// Seconds since the run's start.
    pub t: f64,
    /// Mean frames per second received per VTC over the last interval.
    pub fps: f64,
    /// Gateway CPU cores used over the last interval.
    pub cpu_cores: f64,
    /// The fleet's own CPU cores over the last interval (this process and its children), when
    /// measured.
    pub fleet_cpu_cores: Option<f64>,
}

/// Prints rows as an aligned table (first row: headings).
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
    out
}

/// A key/value table.
pub fn pairs(rows: &[(&str, String)]) -> String {
    let mut all = vec![vec!["measure".to_owned(), "value".to_owned()]];
    all.extend(rows.iter().map(|(k, v)| vec![(*k).to_owned(), v.clone()]));
    table(&all)
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

/// An SVG chart: received frame rate (left axis) and gateway CPU cores (right axis) over time,
/// the fleet's own CPU dashed on the same axis when measured.
pub fn svg_chart(title: &str, samples: &[Sample]) -> String {
    let (w, h) = (900.0, 420.0);
    let (left, right, top, bottom) = (70.0, 70.0, 50.0, 60.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let t_max = samples.iter().map(|s| s.t).fold(1.0f64, f64::max);
    let fps_max = samples.iter().map(|s| s.fps).fold(30.0f64, f64::max) * 1.1;
    let cpu_max = samples
        .iter()
        .map(|s| s.cpu_cores.max(s.fleet_cpu_cores.unwrap_or(0.0)))
        .fold(1.0f64, f64::max)
        * 1.1;
    let x = |t: f64| left + t / t_max * pw;
    let y = |v: f64, max: f64| top + ph - v / max * ph;
    let line = |value: &dyn Fn(&Sample) -> f64, max: f64| -> String {
        samples
            .iter()
            .map(|s| format!("{:.1},{:.1}", x(s.t), y(value(s), max)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="25" text-anchor="middle" font-size="15">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let gy = top + ph - f * ph;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/>"##,
            left + pw
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1f77b4">{:.0}</text>"##,
            left - 6.0,
            gy + 4.0,
            f * fps_max
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#d62728">{:.2}</text>"##,
            left + pw + 6.0,
            gy + 4.0,
            f * cpu_max
        );
        let gx = left + f * pw;
        let _ = writeln!(
            svg,
            r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle">{:.0}</text>"#,
            top + ph + 18.0,
            f * t_max
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time (s)</text>"#,
        left + pw / 2.0,
        h - 15.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="18" y="{:.1}" transform="rotate(-90 18 {:.1})" text-anchor="middle" fill="#1f77b4">received fps per VTC</text>"##,
        top + ph / 2.0,
        top + ph / 2.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" transform="rotate(90 {:.1} {:.1})" text-anchor="middle" fill="#d62728">gateway CPU (cores)</text>"##,
        w - 18.0,
        top + ph / 2.0,
        w - 18.0,
        top + ph / 2.0
    );
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##,
        line(&|s| s.fps, fps_max)
    );
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#d62728" stroke-width="2" points="{}"/>"##,
        line(&|s| s.cpu_cores, cpu_max)
    );
    if samples.iter().any(|s| s.fleet_cpu_cores.is_some()) {
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="#d62728" stroke-width="1.5" stroke-dasharray="6 4" points="{}"/>"##,
            line(&|s| s.fleet_cpu_cores.unwrap_or(0.0), cpu_max)
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#d62728">dashed: fleet's own CPU</text>"##,
            left + pw - 6.0,
            top + 16.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_under_a_rule() {
        let t = table(&[
            vec!["a".into(), "long heading".into()],
            vec!["wider cell".into(), "x".into()],
        ]);
        assert_eq!(
            t,
            "a           long heading\n----------  ------------\nwider cell  x\n"
        );
    }

    #[test]
    fn chart_has_both_series_and_escaped_title() {
        let samples: Vec<Sample> = (0..5)
            .map(|i| Sample {
                t: f64::from(i),
                fps: 30.0,
                cpu_cores: 0.5,
                fleet_cpu_cores: Some(0.25),
            })
            .collect();
        let svg = svg_chart("a < b", &samples);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg.contains("fleet's own CPU"));
        assert!(svg.contains("a &lt; b"));
    }
}
