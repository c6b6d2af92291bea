//! Terminal output: color decisions (anstream's rules: NO_COLOR, CLICOLOR, CLICOLOR_FORCE,
//! TERM, a terminal), styles (anstyle), aligned tables, JSON, and number formatting.

use std::io::Write;

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use super::error::CliResult;

/// `--color` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Color on a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it)
    Auto,
    /// Always color
    Always,
    /// Never color
    Never,
}

/// ANSI styles used in human output.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Cyan,
}

impl Style {
    fn style(self) -> anstyle::Style {
        use anstyle::{AnsiColor, Effects};
        match self {
            Style::Bold => Effects::BOLD.into(),
            Style::Dim => Effects::DIMMED.into(),
            Style::Red => AnsiColor::Red.on_default(),
            Style::Green => AnsiColor::Green.on_default(),
            Style::Yellow => AnsiColor::Yellow.on_default(),
            Style::Cyan => AnsiColor::Cyan.on_default(),
        }
    }
}

/// Where and how a command writes.
pub struct Ui {
    pub color: bool,
    pub stderr_color: bool,
    pub json: bool,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Ui {
    pub fn new(choice: ColorChoice, json: bool) -> Ui {
        let decide = |auto: anstream::ColorChoice| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => auto != anstream::ColorChoice::Never,
        };
        Ui {
            color: decide(anstream::AutoStream::choice(&std::io::stdout())),
            stderr_color: decide(anstream::AutoStream::choice(&std::io::stderr())),
            json,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    pub fn out(&mut self) -> &mut impl Write {
        &mut self.out
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        paint(self.color, text, style)
    }

    pub fn write(&mut self, text: &str) -> CliResult {
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    pub fn line(&mut self, text: &str) -> CliResult {
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// Print `value` as pretty JSON.
    pub fn json<T: Serialize>(&mut self, value: &T) -> CliResult {
        serde_json::to_writer_pretty(&mut self.out, value)?;
        writeln!(self.out)?;
        Ok(())
    }

    /// A status or warning line on stderr, after what stdout has so far (so they interleave right).
    pub fn status(&mut self, text: &str) {
        let _ = self.out.flush();
        eprintln!("{text}");
    }

    pub fn warn(&self, text: &str) {
        eprintln!(
            "{}: {text}",
            paint(self.stderr_color, "warning", Style::Yellow)
        );
    }

    pub fn flush(&mut self) -> CliResult {
        self.out.flush()?;
        Ok(())
    }
}

pub fn paint(on: bool, text: &str, style: Style) -> String {
    if on {
        let s = style.style();
        format!("{s}{text}{s:#}")
    } else {
        text.to_string()
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// An aligned text table.
pub struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<(String, Option<Style>)>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            align: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| (c, None)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self, color: bool) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let mut out = String::new();
        let push_row = |cells: Vec<(String, Option<Style>)>, out: &mut String| {
            let mut line = String::new();
            for (i, (cell, style)) in cells.into_iter().enumerate().take(n) {
                let pad = widths[i].saturating_sub(cell.width());
                let last = i + 1 == n;
                let text = match style {
                    Some(s) => paint(color, &cell, s),
                    None => cell,
                };
                if i > 0 {
                    line.push_str("  ");
                }
                match self.align[i] {
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(&text);
                    }
                    Align::Left => {
                        line.push_str(&text);
                        if !last {
                            line.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        };
        push_row(
            self.headers
                .iter()
                .map(|h| (h.to_string(), Some(Style::Bold)))
                .collect(),
            &mut out,
        );
        for row in &self.rows {
            push_row(row.clone(), &mut out);
        }
        out
    }
}

pub use ptrack::format::{dash, ms, num, pct, quality, signed, time};

/// Shorten `text` to `max` columns with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    let one_line = text.lines().next().unwrap_or_default();
    if one_line.width() <= max && !text.contains('\n') {
        return one_line.to_string();
    }
    let mut out = String::new();
    for c in one_line.chars() {
        if out.width() + 2 > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_by_display_width() {
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("RUNS", Align::Right),
            ("GOAL", Align::Left),
        ]);
        t.row(vec!["é✓".into(), "5".into(), "x".into()]);
        t.row(vec!["long_name".into(), "1234".into(), "".into()]);
        assert_eq!(
            t.render(false),
            "NAME       RUNS  GOAL\né✓            5  x\nlong_name  1234\n"
        );
    }

    #[test]
    fn truncates_to_display_width() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
    }
}
