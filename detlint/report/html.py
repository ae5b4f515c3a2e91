"""html: one self-contained visual report (``detlint check --output-format html -o report.html``).

The file needs nothing else: no network, no CDN, no server. CSS and a little vanilla JS are
inline, pictures are ``data:`` URIs. It holds

- a summary: the datasets (images and annotations per split), findings per code and severity,
  and the exit status under ``--fail-on``;
- the stats panels of each dataset (class histogram, box-size distribution, box centres) as PNG
  images when matplotlib is installed (a note otherwise);
- filters by severity, code and split, and a legend of how the pictures are drawn;
- one section per rule (its one-line documentation), with a card per finding: a JPEG thumbnail
  of the image with every box of that image and its class name, the finding's box highlighted,
  the image border drawn and the canvas padded so boxes past the edge show; then the location
  (``file:line`` or ``file#pointer``), the message and the fix. A finding that points at a
  source line but at no box (a malformed label line, a parse error, a class-map entry) shows that
  line under a caret instead, escaped as in ``--output-format full``; one with neither gets a
  card without a picture. Sections of few cards share a row, so the cards fill the page width.

Size and time are bounded: at most ``DETLINT_HTML_MAX_CARDS`` cards per rule (default
:data:`MAX_CARDS_PER_RULE`; the rest are counted as "N more not shown"), thumbnails of
``DETLINT_HTML_THUMB_SIZE`` px (default :data:`THUMB_SIZE`) at JPEG quality
:data:`JPEG_QUALITY`, drawn in a thread pool (Pillow decodes without the GIL); an image and its boxes are drawn
once, and each of its cards adds only its highlight (``draw.render_each``). A report of
10,000 findings over 30 rules stays under ~50 MB.

Thumbnails need the Dataset objects (``Report.loaded``, same order as ``Report.datasets``); a
report built without them still renders, with text-only cards.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral
from typing import Any, TextIO

import numpy as np

from detlint import __version__
from detlint.findings import SEVERITY_RANK, Finding
from detlint.report._common import (
    LISTED,
    Paths,
    Report,
    RuleTable,
    count,
    diff_headline,
    diff_table,
    escape_text,
    sorted_findings,
    summary_line,
    target_headline,
)
from detlint.report.concise import location
from detlint.report.full import SourceLines
from detlint.report.full import _snippet as source_snippet
from detlint.report.html_assets import CSS, HEAD, JS
from detlint.stats_plot import panels as stats_panels

MAX_CARDS_PER_RULE = 50
THUMB_SIZE = 256
JPEG_QUALITY = 70
ENV_MAX_CARDS = "DETLINT_HTML_MAX_CARDS"
ENV_THUMB_SIZE = "DETLINT_HTML_THUMB_SIZE"


def _env_int(name: str, default: int, minimum: int) -> int:
    try:
        return max(minimum, int(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass
class DatasetView:
    """A checked Dataset with its per-image annotation index (built once, used by every card)."""

    ds: Any
    index: Any  # detlint.draw.ImageIndex
    predictions: Any = None  # detlint.model.Predictions (check --predictions)

    def detection_of(self, finding: Finding) -> int:
        """The row of the detection a finding is about (check --predictions), else -1."""
        row = (finding.data or {}).get("detection")
        preds = self.predictions
        return int(row) if preds is not None and isinstance(row, Integral) and 0 <= row < len(preds) else -1

    def locate(self, finding: Finding) -> tuple[int, tuple[int, ...]]:
        """(image row or -1, annotation rows to highlight) of a finding."""
        ann, images = self.ds.annotations, self.ds.images
        data = finding.data or {}
        detection = self.detection_of(finding)
        if detection >= 0 and not isinstance(data.get("row"), Integral) and not isinstance(data.get("image_row"),
                                                                                              Integral):
            image = int(self.predictions.detections.image[detection])
            return (image if 0 <= image < len(images) else -1), ()
        row = data.get("row")
        if isinstance(row, Integral) and 0 <= row < len(ann):
            highlight = [int(row)]
            other = data.get("duplicate_of")
            if isinstance(other, Integral) and 0 <= other < len(ann):
                highlight.append(int(other))
            return int(ann.image[row]), tuple(highlight)
        image_row = data.get("image_row")
        if isinstance(image_row, Integral) and 0 <= image_row < len(images):
            return int(image_row), ()
        if finding.image:
            rows = self.index.find(finding.image)
            if len(rows) == 1:
                return rows[0], ()
        return -1, ()


@dataclass
class Card:
    finding: Finding
    view: DatasetView | None
    image_row: int
    highlight: tuple[int, ...]
    split: str
    thumbnail: str | None = None  # data URI
    source: list[str] | None = None  # the offending source line under a caret, for a finding without a box


def _views(report: Report) -> dict[str, DatasetView]:
    """DatasetView by the dataset path findings carry (``Finding.dataset``)."""
    if not report.loaded:
        return {}
    from detlint.draw import ImageIndex

    views: dict[str, DatasetView] = {}
    predictions = list(report.predictions) + [None] * (len(report.loaded) - len(report.predictions))
    for summary, ds, preds in zip(report.datasets, report.loaded, predictions):
        view = DatasetView(ds, ImageIndex(ds), preds)
        views.setdefault(str(summary.get("path")), view)
        views.setdefault(str(ds.root), view)
    return views


def _card(finding: Finding, views: dict[str, DatasetView]) -> Card:
    # detlint diff: a removal is drawn from the old version, named by its root ("root")
    view = views.get(str((finding.data or {}).get("root", ""))) or views.get(finding.dataset or "") \
        or (next(iter(views.values())) if len(views) == 1 else None)
    if view is None:
        return Card(finding, None, -1, (), "")
    image_row, highlight = view.locate(finding)
    split = str(view.ds.images.split[image_row]) if image_row >= 0 else ""
    return Card(finding, view, image_row, highlight, split)


def _read_sources(cards: list[Card], paths: Paths) -> None:
    """Fill ``card.source`` for findings that point at a line but at no box (a malformed label
    line, a parse error, a class-map entry): that line says more than a picture of the image."""
    sources = SourceLines()
    for card in cards:
        finding = card.finding
        if card.highlight or not finding.line or finding.pointer:
            continue
        text = sources.line(finding, paths, finding.line)
        if text is not None:
            card.source = source_snippet(text, finding.line, finding.column)


def _draw_thumbnails(cards: list[Card], thumb_size: int) -> None:
    """Fill ``card.thumbnail``: one task per image, which is decoded once for all its cards."""
    by_image: dict[tuple[int, int], list[Card]] = {}
    for card in cards:
        if card.view is not None and card.image_row >= 0 and card.source is None:
            by_image.setdefault((id(card.view), card.image_row), []).append(card)
    if not by_image:
        return
    from detlint import draw

    def work(group: list[Card]) -> None:
        # The image and its boxes are drawn once; each card copies that and adds its highlight.
        view, image_row = group[0].view, group[0].image_row
        rows = view.index.annotations_of(image_row)
        scene = draw.scene_for(view.ds, image_row, rows)
        position = {row: i for i, row in enumerate(draw.drawn_rows(view.ds, rows).tolist())}
        highlights = [frozenset(position[r] for r in card.highlight if r in position) for card in group]
        overlays = [_detection_overlay(card) for card in group]
        for card, picture in zip(group, draw.render_each(scene, highlights, thumb_size, overlays=overlays)):
            data = base64.b64encode(draw.encode(picture, "JPEG", JPEG_QUALITY)).decode("ascii")
            card.thumbnail = "data:image/jpeg;base64," + data

    workers = min(32, (os.cpu_count() or 1) + 4, len(by_image))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, by_image.values()))


def _detection_overlay(card: Card) -> list[tuple[Any, str]]:
    """The detection a card's finding is about, as ``draw`` overlays it ([] when none)."""
    view = card.view
    old_box = (card.finding.data or {}).get("old_box")
    if old_box is not None:  # detlint diff: where a moved or relabelled box was, in its own colour
        from detlint.draw import OLD_COLOUR

        return [(np.asarray(old_box, np.float64), f"was {card.finding.data.get('old_label', '')}", OLD_COLOUR)]
    row = view.detection_of(card.finding) if view is not None else -1
    if row < 0:
        return []
    preds, names = view.predictions, view.ds.categories.names
    box = preds.detections.boxes[row].copy()
    if preds.detections.normalized[row]:
        return []  # its image's size is unknown: nothing to scale it by
    category, score = int(preds.detections.category[row]), float(preds.scores[row])
    label = (names[category] if 0 <= category < len(names) else "?") + ("" if score != score else f" {score:.2f}")
    return [(box, label)]


def _esc(value: object) -> str:
    """Text for a text node or a quoted attribute value: escaped as in the text formats first
    (``escape_text``), so a newline in a name shows as ``\\n`` and no line of the document can
    start with user data (``::error ...``, a workflow command if the report reaches a CI log)."""
    return html.escape(escape_text(str(value)), quote=True)


def _doc_html(text: str) -> str:
    """A docstring line: escaped, with its reStructuredText ``literals`` as <code>."""
    pieces = _esc(text).split("``")
    return "".join(f"<code>{piece}</code>" if i % 2 else piece for i, piece in enumerate(pieces))


def _group_by_rule(findings: list[Finding], rules: RuleTable) -> list[tuple[str, list[Finding]]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.code, []).append(finding)
    return sorted(groups.items(), key=lambda kv: (-SEVERITY_RANK.get(rules[kv[0]].severity, 0), kv[0]))


def emit(report: Report, stream: TextIO) -> None:
    max_cards = _env_int(ENV_MAX_CARDS, MAX_CARDS_PER_RULE, 0)
    thumb_size = _env_int(ENV_THUMB_SIZE, THUMB_SIZE, 32)
    rules, paths = RuleTable(), Paths()
    findings = sorted_findings(report.findings)
    groups = _group_by_rule(findings, rules)
    views = _views(report)
    shown = {code: [_card(f, views) for f in group[:max_cards]] for code, group in groups}
    every_card = [card for cards in shown.values() for card in cards]
    _read_sources(every_card, paths)
    _draw_thumbnails(every_card, thumb_size)
    splits = sorted({card.split for cards in shown.values() for card in cards if card.split})
    stream.write(HEAD.replace("%CSS%", CSS))
    for part in _body(report, findings, groups, shown, splits, rules, paths):
        stream.write("\n")  # every part on a line of its own
        stream.write(part)


def _body(report: Report, findings: list[Finding], groups: list[tuple[str, list[Finding]]],
          shown: dict[str, list[Card]], splits: list[str], rules: RuleTable, paths: Paths) -> Iterator[str]:
    """The document after its head, part by part (one section per rule)."""
    yield (f"<header><h1>detlint report</h1><p class='muted'>detlint {_esc(__version__)} · "
           f"{_esc(summary_line(count(findings, rules), report.fail_on))}</p></header>")
    yield _summary(report, findings, groups, shown, rules)
    yield _targets_section(report)
    yield _diff_section(report)
    yield _label_errors_section(shown, rules, paths)
    yield _stats_section(report)
    yield _filters(groups, splits)
    yield _legend(shown)
    yield "<main id='findings'>"
    for code, group in groups:
        yield _rule_section(code, group, shown[code], rules, paths)
    yield "<p class='empty'>No findings: all checks passed.</p>" if not groups else ""
    yield "</main>"
    yield f"<script>{JS}</script></body></html>\n"

def _summary(report: Report, findings: list[Finding], groups: list[tuple[str, list[Finding]]],
             shown: dict[str, list[Card]], rules: RuleTable) -> str:
    counts = count(findings, rules)
    failing = counts.at_or_above(report.fail_on) if report.fail_on in SEVERITY_RANK else 0
    status = (f"exit status 1: {failing} finding{'s' if failing != 1 else ''} at or above --fail-on "
              f"{report.fail_on}" if failing else f"exit status 0: nothing at or above --fail-on {report.fail_on}")
    if report.diff:  # detlint diff: its exit status is --fail-on-change's, not a severity's
        status = f"{len(findings)} change{'s' if len(findings) != 1 else ''} between the two versions"
    severities = " ".join(f"<span class='badge {s}'>{counts.by_severity[s]} {s}</span>"
                          for s in ("error", "warning", "info"))
    rows = "".join(
        f"<tr><td><a href='#rule-{_esc(code)}'>{_esc(code)}</a></td><td>{_esc(rules[code].name)}</td>"
        f"<td><span class='badge {_esc(rules[code].severity)}'>{_esc(rules[code].severity)}</span></td>"
        f"<td class='num'>{len(group)}</td><td class='num'>{len(shown[code])}</td></tr>"
        for code, group in groups)
    table = (f"<table><thead><tr><th>code</th><th>rule</th><th>severity</th><th>findings</th>"
             f"<th>shown</th></tr></thead><tbody>{rows}</tbody></table>" if groups else "")
    return (f"<section id='summary'><h2>Summary</h2><p class='status {'fail' if failing else 'pass'}'>"
            f"{_esc(status)}</p><p>{severities}</p>{_datasets_table(report)}{table}</section>")


def _datasets_table(report: Report) -> str:
    rows = []
    loaded = report.loaded if len(report.loaded) == len(report.datasets) else [None] * len(report.datasets)
    for summary, ds in zip(report.datasets, loaded):
        rows.append(f"<tr><td><code>{_esc(summary.get('path', ''))}</code></td><td>{_esc(summary.get('format', ''))}"
                    f"</td><td>all</td><td class='num'>{summary.get('images', '')}</td>"
                    f"<td class='num'>{summary.get('annotations', '')}</td>"
                    f"<td class='num'>{summary.get('categories', '')}</td></tr>")
        for split, n_images, n_annotations in _per_split(ds):
            rows.append(f"<tr class='split'><td></td><td></td><td>{_esc(split)}</td><td class='num'>{n_images}</td>"
                        f"<td class='num'>{n_annotations}</td><td></td></tr>")
    return ("<table><thead><tr><th>dataset</th><th>format</th><th>split</th><th>images</th>"
            f"<th>annotations</th><th>classes</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _per_split(ds: Any) -> Iterable[tuple[str, int, int]]:
    if ds is None or not any(ds.splits):
        return []
    split_of_image = ds.images.split
    ann_images = ds.annotations.image
    ann_splits = split_of_image[ann_images[ann_images >= 0]] if len(split_of_image) else np.zeros(0, object)
    return [(split or "(none)", int((split_of_image == split).sum()), int((ann_splits == split).sum()))
            for split in ds.splits]


def _filters(groups: list[tuple[str, list[Finding]]], splits: list[str]) -> str:
    if not groups:
        return ""
    severities = "".join(f"<label><input type='checkbox' name='sev' value='{s}' checked> {s}</label>"
                         for s in ("error", "warning", "info"))
    codes = "".join(f"<option value='{_esc(code)}'>{_esc(code)}</option>" for code, _ in groups)
    split_options = "".join(f"<option value='{_esc(s)}'>{_esc(s)}</option>" for s in splits)
    split_select = (f"<label>split <select id='f-split'><option value=''>all</option>{split_options}"
                    f"</select></label>" if splits else "")
    return (f"<nav id='filters'><strong>Filter</strong> {severities} <label>code <select id='f-code'>"
            f"<option value=''>all</option>{codes}</select></label> {split_select}"
            f"<span class='muted' id='f-count'></span></nav>")


def _rgb(colour: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*colour)


def _legend(shown: dict[str, list[Card]]) -> str:
    """How a thumbnail is drawn (colours from :mod:`detlint.draw`), above the cards that have one."""
    if not any(card.thumbnail for cards in shown.values() for card in cards):
        return ""
    from detlint import draw

    keys = [
        (f"border:3px solid {_rgb(draw.HIGHLIGHT_COLOUR)};outline:2px solid #000",
         "the finding's box (thick, dark halo; a ring around a box too small to see)"),
        (f"border:1px solid {_rgb(draw.PALETTE[0])}", "the image's other boxes, coloured and labelled by class"),
        (f"border:1px solid {_rgb(draw.BORDER_COLOUR)};background:{_rgb(draw.PAD_COLOUR)}",
         "the image's edge; the dark margin around it is padding, so a box past the edge shows"),
        (f"border:1px dashed {_rgb(draw.DECLARED_COLOUR)}", "the size the annotation declares, where the file differs"),
        (f"background:{_rgb(draw.PLACEHOLDER_COLOUR)}", "grey: the image is missing or does not decode"),
        (f"border:2px dashed {_rgb(draw.PREDICTION_COLOUR)};background:#000",
         "a model's detection (check --predictions), with its class and score"),
        (f"border:2px dashed {_rgb(draw.OLD_COLOUR)};background:#000",
         "detlint diff: where a moved or relabelled box was in the old version (a removed box is "
         "the finding's box, on the old version's image)"),
    ]
    items = "".join(f"<span><i style='{style}'></i>{_esc(text)}</span>" for style, text in keys)
    return f"<p id='legend'><strong>In the pictures</strong> {items}</p>"


def _rule_section(code: str, group: list[Finding], cards: list[Card], rules: RuleTable, paths: Paths) -> str:
    rule = rules[code]
    more = len(group) - len(cards)
    more_note = (f"<p class='more'>{more} more not shown (raise {ENV_MAX_CARDS}, now {len(cards)} per rule, "
                 f"or use --output-format concise for the full list)</p>" if more else "")
    body = "".join(_card_html(card, rule.severity, paths) for card in cards)
    # --cards sizes the section to its cards, so sections of few cards share a row (see .rule)
    return (f"<section class='rule' style='--cards:{max(1, len(cards))}' id='rule-{_esc(code)}' "
            f"data-code='{_esc(code)}' "
            f"data-severity='{_esc(rule.severity)}'><h2><span class='badge {_esc(rule.severity)}'>"
            f"{_esc(rule.severity)}</span> {_esc(code)} {_esc(rule.name)} <small>{len(group)} finding"
            f"{'s' if len(group) != 1 else ''}</small></h2><p class='doc'>{_doc_html(rule.summary)}</p>"
            f"<div class='cards'>{body}</div>{more_note}</section>")


def _label_errors_section(shown: dict[str, list[Card]], rules: RuleTable, paths: Paths) -> str:
    """The likely label errors (the L codes, check --label-issues) worst first: each picture has
    the label (highlighted) and the model's suspect detection (dashed), "" when none."""
    cards = [card for code, group in shown.items() if code.startswith("L") for card in group]
    if not cards:
        return ""
    cards.sort(key=lambda card: (card.finding.data or {}).get("label_quality", 1.0))
    body = "".join(_card_html(card, rules[card.finding.code].severity, paths) for card in cards)
    note = ("Ranked by cleanlab's ObjectLab label quality score (lowest first). In each picture the label "
            "in question is highlighted and the model's suspect detection is dashed white. The ranking is only "
            "as good as the predictions: they should be out-of-sample (K-fold), since a model scores its own "
            "training labels as correct.")
    return (f"<section id='label-errors'><h2>Likely label errors</h2><p class='doc'>{_esc(note)}</p>"
            f"<div class='cards'>{body}</div></section>")


def _diff_section(report: Report) -> str:
    """detlint diff's totals and per-class table ("" for check)."""
    if not report.diff:
        return ""
    header, rows = diff_table(report)
    cells = "".join(f"<th{' class=num' if k else ''}>{_esc(c)}</th>" for k, c in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{' class=num' if k else ''}>{_esc(c)}</td>" for k, c in enumerate(row))
                   + "</tr>" for row in rows)
    table = f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>" if rows else ""
    return f"<section id='diff'><h2>Changes</h2><p>{_esc(diff_headline(report))}</p>{table}</section>"


def _targets_section(report: Report) -> str:
    """A panel per --target: its totals, what it raises and the images it drops ("" when none asked)."""
    panels = []
    for name, summary in report.targets.items():
        items = [f"<li>raises: {_esc(m)}</li>" for m in summary["raises"][:LISTED]]
        items += [f"<li>drops image: <code>{_esc(p)}</code></li>" for p in summary["images_dropped"][:LISTED]]
        more = len(summary["raises"]) + len(summary["images_dropped"]) - len(items)
        items += [f"<li class='muted'>... and {more} more</li>"] if more > 0 else []
        panels.append(f"<div class='target' id='target-{_esc(name)}'><h3>{_esc(target_headline(name, summary))}</h3>"
                      f"<ul>{''.join(items)}</ul></div>")
    return f"<section id='targets'><h2>Trainers</h2>{''.join(panels)}</section>" if panels else ""


def _card_html(card: Card, severity: str, paths: Paths) -> str:
    finding = card.finding
    if card.thumbnail:
        alt = f"{finding.image or 'image'} with its boxes"
        picture = f"<img src='{card.thumbnail}' alt='{_esc(alt)}'>"
    elif card.source:  # each line escaped twice: as in the text reports, then for HTML
        picture = "<pre class='src'>" + "\n".join(html.escape(line, quote=True) for line in card.source) + "</pre>"
    else:
        picture = "<div class='noimg'>no image</div>"
    facts = [f"image: {finding.image}" if finding.image else "",
             f"annotation: {finding.annotation}" if finding.annotation else "",
             f"split: {card.split}" if card.split else ""]
    fix = (f"<p class='fix'>fix ({_esc(finding.fix.applicability)}): {_esc(finding.fix.description)}</p>"
           if finding.fix else "")
    fix += "".join(f"<p class='consequence'>{_esc(target)}: {_esc(text)}</p>"
                   for target, text in finding.consequences.items())
    return (f"<article class='card' data-code='{_esc(finding.code)}' data-severity='{_esc(severity)}' "
            f"data-split='{_esc(card.split)}'>{picture}<div class='body'><code class='loc'>"
            f"{_esc(location(finding, paths))}</code><p class='msg'>{_esc(finding.message)}</p>{fix}"
            f"<p class='muted'>{_esc(', '.join(f for f in facts if f))}</p></div></article>")


# -- stats panels --------------------------------------------------------------------------------

def _stats_section(report: Report) -> str:
    if not report.loaded:
        return ""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("<section id='stats'><h2>Statistics</h2><p class='muted'>matplotlib is not installed: "
                "<code>pip install 'detlint[plot]'</code> adds the stats panels.</p></section>")
    blocks = []
    for summary, ds in zip(report.datasets, report.loaded):
        panels = "".join(f"<figure><img src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}' "
                         f"alt='{_esc(title)}'><figcaption>{_esc(title)}</figcaption></figure>"
                         for title, png in stats_panels(ds, plt))
        blocks.append(f"<h3><code>{_esc(summary.get('path', ds.root))}</code></h3><div class='panels'>"
                      f"{panels or '<p class=muted>no boxes to plot</p>'}</div>")
    return f"<section id='stats'><h2>Statistics</h2>{''.join(blocks)}</section>"
