"""The digest as an email: a plain-text part, an email-safe HTML part, a chart per work.

``compose`` lays out a ``digest.Digest`` as ``multipart/alternative``: the plain-text
part first, readable in a terminal mail client (wrapped at 72 columns, every link on
a line of its own), then ``multipart/related`` with the HTML part (tables and inline
styles only, nothing fetched: it reads at 390 px without sideways scrolling) and one
PNG chart per shown work, shown through its Content-ID. Both parts carry the same
items. Control characters in anything a source sent are removed from every part and
the subject (``textsafe``); the database keeps the exact value.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from markupsafe import Markup

from monitor import __version__, digest_chart, report
from monitor.citing_view import CitingEntry
from monitor.config import EmailConfig
from monitor.digest import CollectionNews, Digest, DigestWork
from monitor.textsafe import one_line, printable

WIDTH = 72  # columns of the plain-text part
KIND_LABELS = {
    "retraction": "Retraction",
    "correction": "Correction",
    "new_citations": "New citations",
    "new_work": "New work",
    "milestone": "Milestone",
    "drop": "Count fell",
    "jump": "Unusual jump",
    "citing_retraction": "Citing work retracted",
    "source_failing": "Source failing",
}
BAD_NEWS = frozenset({"retraction", "drop", "source_failing", "citing_retraction"})


@dataclass(frozen=True)
class Chart:
    cid: str  # without angle brackets, as the HTML's cid: URL wants it
    png: bytes
    alt: str


def compose(digest: Digest, settings: EmailConfig, now: datetime, folder: Path) -> EmailMessage:
    """multipart/alternative: text/plain, then multipart/related (text/html + PNG charts)."""
    charts: dict[str, Chart] = {}
    for index, work in enumerate(digest.works, 1):
        png = digest_chart.line_chart(work.counts)
        if png:
            cid = f"chart-{index}@citation-monitor"
            charts[work.doi] = Chart(cid, png, digest_chart.alt_text(work.counts))
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = settings.sender or "citation-monitor@localhost"
    message["To"] = ", ".join(settings.recipients) or "undisclosed-recipients:;"
    message["Date"] = format_datetime(now)
    domain = (settings.sender or "citation-monitor@localhost").rpartition("@")[2]
    message["Message-ID"] = make_msgid("citation-monitor", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    message.set_content(text(digest, settings))
    message.add_alternative(html(digest, settings, now, folder, charts), subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for chart in charts.values():
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{chart.cid}>",
            disposition="inline",
            filename=f"{chart.cid.split('@')[0]}.png",
        )
    return message


# --- HTML ---------------------------------------------------------------------------


def html(
    digest: Digest, settings: EmailConfig, now: datetime, folder: Path, charts: dict[str, Chart]
) -> str:
    env = report.environment(folder).overlay(finalize=_safe)
    env.globals = {  # a copy: an overlay shares its parent's globals, and the parent is shared
        **env.globals,
        "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
        "bad_news": BAD_NEWS,
        "byline": byline,
        "listed": _listed,
        "new_heading": _new_heading,
        "beside": _beside,
        "style": digest_chart.style,
    }
    return env.get_template("digest_email.html").render(
        subject=digest.subject,
        summary=summary(digest),
        collection_text=collection_line(digest.collection) if digest.collection else "",
        digest=digest,
        charts=charts,
        more_works_text=_more_works(digest),
        report_url=settings.report_url,
        policy=settings.policy,
        version=__version__,
        sent_at=now.strftime("%Y-%m-%d %H:%M UTC"),
    )


def _safe(value: Any) -> Any:
    """Every value the template shows, without control characters (markup is ours: kept)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return one_line(value)
    return value


# --- plain text ---------------------------------------------------------------------


def text(digest: Digest, settings: EmailConfig) -> str:
    """The plain-text part: the same works and items as the HTML, in 72 columns."""
    out = [*_wrap(digest.subject), *_wrap(summary(digest)), ""]
    if digest.collection:
        out += [*_wrap(collection_line(digest.collection))]
        out += [digest.collection.page_url, ""] if digest.collection.page_url else [""]
    for work in digest.works:
        out += _work_text(work)
    if digest.more_works:
        out += [*_wrap(_more_works(digest) + ": see the report."), ""]
    for alert in digest.source_alerts:
        out += _wrap(f"{KIND_LABELS.get(alert.kind, alert.kind)}: {alert.message}")
    for title, message in digest.failed:
        out += _wrap(f"{title} failed in the last run: {message}")
    if settings.report_url:
        out += ["", "Full report:", settings.report_url]
    run = digest.run
    out += ["", "-- "]
    if run:
        out.append(f"Run {run['id']} started {run['started_at'][:16].replace('T', ' ')} UTC.")
    out.append(f'citation-monitor {__version__}; [email] policy = "{settings.policy}"')
    return printable("\n".join(out).rstrip("\n") + "\n")


def _work_text(work: DigestWork) -> list[str]:
    out = ["=" * WIDTH, *_wrap(work.title), work.url]
    if work.headline:
        out += _wrap(work.headline.now.text)
        out += _wrap(_beside(work)) if _beside(work) else []
    out.append("")
    if work.alerts:
        for alert in work.alerts:
            out += _wrap(f"{KIND_LABELS.get(alert.kind, alert.kind)}: {alert.message}", "- ", "  ")
        out.append("")
    if work.citation_ids:
        out += [_new_heading(work), ""]
        for item in work.items:
            out += [*_item_text(item), ""]
        if work.more_items and work.page_url:
            out += [f"And {work.more_items} more, on the work's page:", work.page_url, ""]
        elif work.more_items:
            out += [f"And {work.more_items} more: see the report.", ""]
    if work.counts:
        counts = " · ".join(
            f"{c.title} {c.citations}" + (f" ({_signed(c.change)})" if c.change else "")
            for c in work.counts
        )
        out += [*_wrap(f"Counts: {counts}"), ""]
    return out


def _item_text(item: CitingEntry) -> list[str]:
    title = one_line(item.title) + "".join(f" [{mark}]" for mark in item.marks)
    lines = _wrap(title, "* ", "  ")
    about = byline(item)
    if about:
        lines += _wrap(about, "  ")
    lines += _wrap(_listed(item), "  ")
    if item.context:
        lines += _wrap(f"“{item.context}”", "  ")
    if item.url:
        lines.append(f"  {item.url}")
    return lines


def _wrap(value: str, first: str = "", rest: str | None = None) -> list[str]:
    """One paragraph, at most ``WIDTH`` columns (a word longer than the line stays whole)."""
    return textwrap.wrap(
        one_line(value),
        WIDTH,
        initial_indent=first,
        subsequent_indent=first if rest is None else rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


# --- shared wording -----------------------------------------------------------------


def summary(digest: Digest) -> str:
    """One line under the subject: what the digest found, over which days."""
    moments = [m for m in (digest.first_run_at, digest.run.get("started_at")) if m]
    days = sorted({datetime.fromisoformat(m).date() for m in moments})
    when = " – ".join(f"{d.day} {d:%b %Y}" for d in days)
    new = digest.new_citations
    news = f"{new} new citation{'s' if new != 1 else ''}" if new else "No new citations"
    if not days:
        return f"{news}."
    return f"{news} found {'on ' if len(days) == 1 else ''}{when}."


def collection_line(news: CollectionNews) -> str:
    """'Jiang lab: 31 works (+1), 1,106 citations (+33), h-index 12 (+1), i10-index 9
    (in brackets: the change since the last digest); 1 new work.'"""
    m = news.metrics
    if not m:
        return f"{news.title}: no metrics yet."

    def figure(key: str, text: str) -> str:
        change = news.change.get(key)
        value = "—" if m[key] is None else f"{m[key]:,}"
        return text.format(value) + (f" ({_signed(change)})" if change else "")

    parts = [figure("works", "{} work" + ("" if m["works"] == 1 else "s")),
             figure("citations", "{} citation" + ("" if m["citations"] == 1 else "s")),
             figure("h_index", "h-index {}"), figure("i10_index", "i10-index {}")]
    changed = " (in brackets: the change since the last digest)" if any(news.change.values()) else ""
    new = f"; {news.new_works} new work{'s' if news.new_works != 1 else ''}" if news.new_works else ""
    return f"{news.title}: {', '.join(parts)}{changed}{new}."


def byline(item: CitingEntry) -> str:
    """'A. Author, B. Author, C. Author et al. · Venue, 2024', as far as known."""
    if not item.named and not item.authors:
        return "No source has named it yet"
    where = ", ".join(one_line(str(p)) for p in (item.venue, item.year) if p)
    return " · ".join(one_line(p) for p in (item.authors, where) if p)


def _listed(item: CitingEntry) -> str:
    listed = f"Listed by {', '.join(item.sources)}" if item.sources else "No source lists it now"
    if item.intents:
        listed += f" · Intent: {', '.join(item.intents)}"
    return listed


def _new_heading(work: DigestWork) -> str:
    n = len(work.citation_ids)
    return f"{n} new citing work{'s' if n != 1 else ''}"


def _beside(work: DigestWork) -> str:
    """The headline's companions: its change since the previous run, without self-citations."""
    assert work.headline is not None
    parts = []
    change = work.headline.since_previous_run
    if change:
        parts.append(f"{_signed(change)} since the previous run")
    without = work.headline.now.without_self_citations
    if without is not None and work.headline.now.self_citations:
        parts.append(f"{without} without self-citations")
    return " · ".join(parts)


def _more_works(digest: Digest) -> str:
    n, new = digest.more_works, digest.more_citations
    works = f"And {n} more work{'s' if n != 1 else ''}"
    return works + (
        f" with {new} new citing work{'s' if new != 1 else ''}" if new else " with less news"
    )


def _signed(n: int | None) -> str:
    if n is None:
        return "—"
    return f"+{n}" if n > 0 else str(n)
