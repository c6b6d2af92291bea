//! Terminal output: color decisions (anstream's rules: NO_COLOR, CLICOLOR, CLICOLOR_FORCE,
//! TERM, a terminal), styles (anstyle), the width to fit (`COLUMNS`, else the terminal's),
//! aligned tables that fit it, JSON, and number formatting.
//!
//! Every human line, to stdout or stderr, goes through [`escape`]: a control character from a
//! project's files or logs is shown as an escape (`\u{1b}`), so it cannot act on the terminal;
//! only the style sequences written here pass. Text whose bytes matter when piped (a rendered
//! prompt, an export) takes [`Ui::write_text`] or [`Ui::text_out`], exact unless stdout is a
//! terminal; JSON takes [`Ui::json`] or [`Ui::write_exact`], always exact.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::LazyLock;

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

/// The emphasis of a changed word in a diff: bold and underlined, as one sequence.
const EMPHASIS: &str = "\x1b[1;4m";
/// Underlined, which clap's usage errors write besides the styles here.
const UNDERLINE: &str = "\x1b[4m";

impl Style {
    const ALL: [Style; 6] = [
        Style::Bold,
        Style::Dim,
        Style::Red,
        Style::Green,
        Style::Yellow,
        Style::Cyan,
    ];

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

/// The sequences this module writes to style text, which [`escape`] lets pass when color is on.
static STYLE_SEQUENCES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut all: Vec<String> = Style::ALL
        .iter()
        .flat_map(|s| [format!("{}", s.style()), format!("{:#}", s.style())])
        .chain([EMPHASIS.to_string(), UNDERLINE.to_string()])
        .filter(|s| !s.is_empty())
        .collect();
    all.sort();
    all.dedup();
    all
});

/// `text` as it may reach a terminal: control characters escaped
/// ([`ptrack::format::escape_controls`]), but the style sequences of [`paint`] when `color`.
/// [`paint`] and [`Ui::write`] escape a project's text whole, so only text set unpainted into a
/// [`Ui::line`] could still pass one of these few sequences (a color, bold, underline, reset):
/// never a cursor move, a clipboard write or a link.
pub fn escape(text: &str, color: bool) -> Cow<'_, str> {
    if color {
        let keep: Vec<&str> = STYLE_SEQUENCES.iter().map(String::as_str).collect();
        ptrack::format::escape_controls_except(text, false, &keep)
    } else {
        ptrack::format::escape_controls(text)
    }
}

/// Print a usage error of clap's on stderr, escaped ([`escape`]: it quotes the arguments given),
/// or the help or version asked for, as clap prints them; the exit code clap gives it.
pub fn clap_exit(e: clap::Error) -> std::process::ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(super::error::EXIT_ERROR);
    if !e.use_stderr() {
        // Help and version are ptrack's own text, for stdout.
        let _ = e.print();
        return code.into();
    }
    // The flags are not parsed: color as clap would have (a terminal, NO_COLOR, CLICOLOR).
    let color = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    // Without color clap drops every sequence it can parse, the arguments' too; escaping them
    // shows what was given. Then clap's own styles go, when color is off.
    let mut text = escape(&e.render().ansi().to_string(), true).into_owned();
    if !color {
        for s in STYLE_SEQUENCES.iter() {
            text = text.replace(s.as_str(), "");
        }
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    code.into()
}

/// Print one line on stderr from the start of the line, over the `^C` a terminal echoes.
pub fn eprint_over_echo(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\r{}", escape(text, false));
}

/// Print one line on stderr, escaped ([`escape`]); `color` lets the style sequences pass.
pub fn eprint_line(color: bool, text: &str) {
    let mut err = std::io::stderr().lock();
    // Nothing to do when stderr is gone.
    let _ = writeln!(err, "{}", escape(text, color));
}

/// Where and how a command writes.
pub struct Ui {
    pub color: bool,
    pub stderr_color: bool,
    pub json: bool,
    /// The width human output fits, in columns; `None`: any width (nothing is cut).
    pub width: Option<usize>,
    /// Whether stdout is a terminal: text whose bytes matter is escaped only then.
    terminal: bool,
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
            width: output_width(std::env::var("COLUMNS").ok().as_deref()),
            terminal: std::io::stdout().is_terminal(),
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    /// Write `table`, fitted to [`Ui::width`] (its cells were escaped as they were added).
    pub fn table(&mut self, table: &Table) -> CliResult {
        let text = table.render_fit(self.color, self.width);
        self.out.write_all(escape(&text, self.color).as_bytes())?;
        Ok(())
    }

    /// `text` escaped and shortened with `…` to [`Ui::width`] (for lines that are rows of a
    /// listing).
    pub fn fit(&self, text: &str) -> String {
        match self.width {
            Some(w) => truncate(text, w),
            None => ptrack::format::escape_controls(text).into_owned(),
        }
    }

    /// A writer for text whose bytes matter (an export): exact, but escaped as by
    /// [`Ui::write_text`] on a terminal. Call [`TextOut::finish`] after the last write.
    pub fn text_out(&mut self) -> TextOut<'_> {
        if self.terminal {
            TextOut::Escaped(Escaping::new(&mut self.out))
        } else {
            TextOut::Exact(&mut self.out)
        }
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        paint(self.color, text, style)
    }

    /// `text` bold and underlined (with color on), for a changed word in a diff line of `style`.
    pub fn emphasize(&self, text: &str, style: Style) -> String {
        let painted = self.paint(text, style);
        if self.color {
            format!("{EMPHASIS}{painted}{:#}", Style::Bold.style())
        } else {
            painted
        }
    }

    /// Write a block of a project's text (a prompt, an output, a diff), every control character
    /// escaped: nothing in it is ptrack's, so no style sequence passes either.
    pub fn write(&mut self, text: &str) -> CliResult {
        self.out.write_all(escape(text, false).as_bytes())?;
        Ok(())
    }

    /// Write a line of human text that ptrack composed, perhaps painted: escaped ([`escape`]),
    /// but for the style sequences of [`Ui::paint`].
    pub fn line(&mut self, text: &str) -> CliResult {
        writeln!(self.out, "{}", escape(text, self.color))?;
        Ok(())
    }

    /// Write text whose bytes matter when piped (a rendered prompt, a model's output): exact,
    /// but escaped on a terminal, where it is read rather than used.
    pub fn write_text(&mut self, text: &str) -> CliResult {
        if self.terminal {
            self.write(text)
        } else {
            self.write_exact(text)
        }
    }

    /// Write `text` exactly (JSON, or a format for programs like a report's Markdown for CI).
    pub fn write_exact(&mut self, text: &str) -> CliResult {
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Print `value` as pretty JSON.
    pub fn json<T: Serialize>(&mut self, value: &T) -> CliResult {
        ptrack::json::write_pretty(&mut self.out, value)?;
        Ok(())
    }

    /// A status or warning line on stderr, after what stdout has so far (so they interleave right).
    pub fn status(&mut self, text: &str) {
        let _ = self.out.flush();
        eprint_line(self.stderr_color, text);
    }

    pub fn warn(&self, text: &str) {
        eprint_line(
            self.stderr_color,
            &format!(
                "{}: {text}",
                paint(self.stderr_color, "warning", Style::Yellow)
            ),
        );
    }

    pub fn flush(&mut self) -> CliResult {
        self.out.flush()?;
        Ok(())
    }
}

/// Text written to a terminal as [`escape`] would: a stream's pieces may end inside a character
/// or between `\r` and `\n`, so those few bytes wait for the next write.
pub struct Escaping<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Escaping<W> {
    pub fn new(inner: W) -> Self {
        Escaping {
            inner,
            pending: Vec::new(),
        }
    }

    /// Write what is pending, escaped; with `last`, a cut-off character and a final `\r` too.
    fn drain(&mut self, last: bool) -> std::io::Result<()> {
        let mut done = 0;
        while done < self.pending.len() {
            let rest = &self.pending[done..];
            let (valid, bad) = match std::str::from_utf8(rest) {
                Ok(s) => (s, None),
                Err(e) => {
                    // Checked by `from_utf8` up to `valid_up_to`.
                    let s = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default();
                    (s, e.error_len())
                }
            };
            // A `\r` at the end may start a `\r\n`, kept as it is.
            let hold = !last && bad.is_none() && valid.len() == rest.len() && valid.ends_with('\r');
            let take = if hold {
                &valid[..valid.len() - 1]
            } else {
                valid
            };
            self.inner
                .write_all(ptrack::format::escape_controls(take).as_bytes())?;
            done += take.len();
            match bad {
                Some(n) => {
                    self.inner.write_all("\u{fffd}".as_bytes())?;
                    done += n;
                }
                None if valid.len() < rest.len() && last => {
                    self.inner.write_all("\u{fffd}".as_bytes())?;
                    done = self.pending.len();
                }
                None => break,
            }
        }
        self.pending.drain(..done);
        Ok(())
    }

    /// Write the rest, a cut-off character or `\r` at the end included, and flush.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.drain(true)?;
        self.inner.flush()
    }
}

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.drain(false)?;
        self.inner.flush()
    }
}

/// Where [`Ui::text_out`] writes: stdout exactly, or escaped on a terminal.
pub enum TextOut<'a> {
    Exact(&'a mut std::io::BufWriter<std::io::Stdout>),
    Escaped(Escaping<&'a mut std::io::BufWriter<std::io::Stdout>>),
}

impl TextOut<'_> {
    /// Write what is held back (see [`Escaping::finish`]) and flush.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            TextOut::Exact(w) => w.flush(),
            TextOut::Escaped(w) => w.finish(),
        }
    }
}

impl Write for TextOut<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            TextOut::Exact(w) => w.write(buf),
            TextOut::Escaped(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            TextOut::Exact(w) => w.flush(),
            TextOut::Escaped(w) => w.flush(),
        }
    }
}

/// The width to fit: `COLUMNS` when it is a positive number (so `COLUMNS=100 ptrack list | less`
/// fits too), else the terminal's when stdout is one, else `None`: piped output is never cut.
fn output_width(columns: Option<&str>) -> Option<usize> {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(|| {
            terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
        })
}

/// `text` in `style` when `on`; escaped then, so that a style sequence of its own cannot pass
/// as one of these.
pub fn paint(on: bool, text: &str, style: Style) -> String {
    if on {
        let s = style.style();
        format!("{s}{}{s:#}", ptrack::format::escape_controls(text))
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

/// An aligned text table that fits a width: it leaves out its droppable columns, then shortens
/// its shrinkable one, and cuts what is still too wide, so that a row never wraps.
pub struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<(String, Option<Style>)>>,
    /// Columns left out when the table is too wide, in that order.
    droppable: Vec<usize>,
    /// The column shortened to the width left, and the width it keeps before a column is dropped.
    shrinkable: Option<(usize, usize)>,
}

/// Columns between two cells.
const GAP: usize = 2;

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            align: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
            droppable: Vec::new(),
            shrinkable: None,
        }
    }

    /// Leave out these columns (by header), in this order, while the table is too wide.
    pub fn droppable(mut self, headers: &[&str]) -> Table {
        self.droppable = headers
            .iter()
            .filter_map(|h| self.headers.iter().position(|x| x == h))
            .collect();
        self
    }

    /// Shorten this column's texts (by header) with `…` to the width left; columns are dropped
    /// only while it would get less than `min`.
    pub fn shrinkable(mut self, header: &str, min: usize) -> Table {
        self.shrinkable = self
            .headers
            .iter()
            .position(|x| *x == header)
            .map(|i| (i, min));
        self
    }

    /// Add a row; a cell of several lines shows its first line and `…`; control characters
    /// and tabs are escaped ([`ptrack::format::escape_controls_in_cell`]), so the widths hold.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    let c = ptrack::format::escape_controls_in_cell(&c);
                    if c.contains('\n') {
                        (truncate(&c, usize::MAX), None)
                    } else {
                        (c.into_owned(), None)
                    }
                })
                .collect(),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table in at most `width` columns (any width when `None`).
    pub fn render_fit(&self, color: bool, width: Option<usize>) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let mut shown = vec![true; n];
        if let Some(max) = width {
            let total = |shown: &[bool], widths: &[usize]| {
                let cols = shown.iter().filter(|s| **s).count();
                let cells: usize = (0..n).filter(|&i| shown[i]).map(|i| widths[i]).sum();
                cells + GAP * cols.saturating_sub(1)
            };
            // The shrinkable column at its least, so columns go only when that is not enough.
            let mut least = widths.clone();
            if let Some((i, min)) = self.shrinkable {
                least[i] = widths[i].min(min.max(self.headers[i].width()));
            }
            for &i in &self.droppable {
                if total(&shown, &least) <= max {
                    break;
                }
                shown[i] = false;
            }
            if let Some((i, _)) = self.shrinkable {
                let others = total(&shown, &least) - least[i];
                widths[i] = widths[i].min(max.saturating_sub(others).max(least[i]));
            }
        }
        let mut out = String::new();
        let push_row = |cells: &[(String, Option<Style>)], out: &mut String| {
            let cells: Vec<(String, Option<Style>)> = cells
                .iter()
                .enumerate()
                .take(n)
                .filter(|(i, _)| shown[*i])
                .map(|(i, (cell, style))| match self.shrinkable {
                    Some((s, _)) if s == i && cell.width() > widths[i] => {
                        (truncate(cell, widths[i]), *style)
                    }
                    _ => (cell.clone(), *style),
                })
                .collect();
            let plain = self.line(&cells, &widths, &shown, false);
            match width {
                // Still too wide (a long name, say): cut the row rather than let it wrap.
                Some(max) if plain.width() > max => {
                    let cut = truncate(&plain, max);
                    out.push_str(&match cells.iter().find_map(|c| c.1) {
                        Some(style) => paint(color, &cut, style),
                        None => cut,
                    });
                }
                _ => out.push_str(&self.line(&cells, &widths, &shown, color)),
            }
            out.push('\n');
        };
        let headers: Vec<(String, Option<Style>)> = self
            .headers
            .iter()
            .map(|h| (h.to_string(), Some(Style::Bold)))
            .collect();
        push_row(&headers, &mut out);
        for row in &self.rows {
            push_row(row, &mut out);
        }
        out
    }

    /// One row of the shown columns' `cells`, padded to `widths`, without trailing spaces.
    fn line(
        &self,
        cells: &[(String, Option<Style>)],
        widths: &[usize],
        shown: &[bool],
        color: bool,
    ) -> String {
        let columns: Vec<usize> = (0..self.headers.len()).filter(|&i| shown[i]).collect();
        let mut line = String::new();
        for (k, ((cell, style), &i)) in cells.iter().zip(&columns).enumerate() {
            let pad = widths[i].saturating_sub(cell.width());
            let last = k + 1 == columns.len();
            let text = match style {
                Some(s) => paint(color, cell, *s),
                None => cell.clone(),
            };
            if k > 0 {
                line.push_str(&" ".repeat(GAP));
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
        line.trim_end().to_string()
    }
}

pub use ptrack::format::{dash, ms, num, pct, quality, signed, time};

/// Shorten `text` to its first line and at most `max` display columns, ending in `…` when cut;
/// control characters are escaped first ([`ptrack::format::escape_controls`]), so the width
/// is the one shown.
pub fn truncate(text: &str, max: usize) -> String {
    let text = &*ptrack::format::escape_controls(text);
    let one_line = text.lines().next().unwrap_or_default();
    if one_line.width() <= max && !text.contains('\n') {
        return one_line.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in one_line.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        // Room for this character and the ellipsis.
        if used + w >= max {
            break;
        }
        used += w;
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `text` in lines of at most `width` columns, broken after a `sep` or, inside a part too long
/// for a line, between words; lines after the first start with `indent`. A word wider than a
/// line is cut with `…`.
pub fn wrap(text: &str, width: usize, sep: &str, indent: &str) -> String {
    let body = width.saturating_sub(indent.width());
    let mut lines = vec![String::new()];
    fn place(piece: &str, lines: &mut Vec<String>, room: usize) {
        match lines.last_mut() {
            Some(line)
                if line.is_empty() || format!("{line}{piece}").trim_end().width() <= room =>
            {
                line.push_str(piece);
            }
            _ => lines.push(piece.to_string()),
        }
    }
    for part in text.split_inclusive(sep) {
        let pieces: Vec<&str> = if part.trim_end().width() <= body {
            vec![part]
        } else {
            part.split_inclusive(' ').collect()
        };
        for piece in pieces {
            let room = if lines.len() == 1 { width } else { body };
            place(piece, &mut lines, room);
        }
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| match i {
            0 => truncate(l.trim_end(), width),
            _ => format!("{indent}{}", truncate(l.trim_end(), body)),
        })
        .collect::<Vec<_>>()
        .join("\n")
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
            t.render_fit(false, None),
            "NAME       RUNS  GOAL\né✓            5  x\nlong_name  1234\n"
        );
    }

    #[test]
    fn a_stream_is_escaped_across_its_pieces() {
        let mut out = Vec::new();
        let mut w = Escaping::new(&mut out);
        // é cut in two, a CRLF cut in two, a lone \r cut off, then a bad byte.
        let text = "caf\u{e9}\x1b]52;c;x\x07\r\nnext\rover\r".as_bytes();
        let cuts = [4, 12, 13, text.len()];
        let mut from = 0;
        for to in cuts {
            w.write_all(&text[from..to]).expect("write");
            w.flush().expect("flush");
            from = to;
        }
        w.write_all(b"\xff!").expect("write");
        w.finish().expect("finish");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "caf\u{e9}\\u{1b}]52;c;x\\u{7}\r\nnext\\rover\\r\u{fffd}!"
        );
    }

    #[test]
    fn only_our_style_sequences_pass() {
        let styled = format!(
            "{} \x1b[8mhidden\x1b]8;;x\x1b\\",
            paint(true, "ok", Style::Green)
        );
        assert_eq!(
            escape(&styled, true),
            "\x1b[32mok\x1b[0m \\u{1b}[8mhidden\\u{1b}]8;;x\\u{1b}\\"
        );
        assert_eq!(
            escape(&styled, false),
            "\\u{1b}[32mok\\u{1b}[0m \\u{1b}[8mhidden\\u{1b}]8;;x\\u{1b}\\"
        );
        let mut t = Table::new(&[("A", Align::Left), ("B", Align::Left)]);
        t.row(vec!["a\tb\x1b[2J".into(), "c".into()]);
        assert_eq!(
            t.render_fit(false, None),
            "A              B\na\\tb\\u{1b}[2J  c\n"
        );
    }

    #[test]
    fn truncates_to_display_width() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        // 遅 is two columns wide: `ab遅…` would be five.
        assert_eq!(truncate("ab遅延", 4), "ab…");
        assert_eq!(truncate("café au lait", 5), "café…");
        assert_eq!(truncate("two\nlines", 10), "two…");
    }

    #[test]
    fn a_table_drops_then_shrinks_columns_to_fit() {
        let table = || {
            let mut t = Table::new(&[
                ("NAME", Align::Left),
                ("RUNS", Align::Right),
                ("LAST RUN", Align::Left),
                ("GOAL", Align::Left),
            ])
            .droppable(&["LAST RUN"])
            .shrinkable("GOAL", 8);
            t.row(vec![
                "coach".into(),
                "12".into(),
                "2026-11-20 10:00".into(),
                "Coach the user, one question at a time".into(),
            ]);
            t
        };
        let full = table().render_fit(false, None);
        assert_eq!(
            full,
            "NAME   RUNS  LAST RUN          GOAL\n\
             coach    12  2026-11-20 10:00  Coach the user, one question at a time\n"
        );
        // 40 columns: the goal can keep 9 beside LAST RUN.
        let narrow = table().render_fit(false, Some(40));
        assert_eq!(
            narrow,
            "NAME   RUNS  LAST RUN          GOAL\ncoach    12  2026-11-20 10:00  Coach th…\n"
        );
        // 38: it would get less than its 8, so LAST RUN goes and the goal gets the rest.
        let narrow = table().render_fit(false, Some(38));
        assert_eq!(
            narrow,
            "NAME   RUNS  GOAL\ncoach    12  Coach the user, one ques…\n"
        );
        assert!(narrow.lines().all(|l| l.width() <= 38));
        // Too narrow for even the kept columns: rows are cut, never wrapped.
        let tiny = table().render_fit(false, Some(12));
        assert_eq!(tiny, "NAME   RUNS…\ncoach    12…\n");
    }

    #[test]
    fn wraps_between_clauses_then_words() {
        let text = "1.1 vs 1.0: success +22.7 pts (p=0.049); p50 −238 ms (p=0.016); quality +1.6";
        assert_eq!(
            wrap(text, 44, "; ", "  "),
            "1.1 vs 1.0: success +22.7 pts (p=0.049);\n  p50 −238 ms (p=0.016); quality +1.6"
        );
        assert_eq!(wrap("short", 44, "; ", "  "), "short");
        assert_eq!(
            wrap("one two three four", 9, "; ", "  "),
            "one two\n  three\n  four"
        );
    }
}
