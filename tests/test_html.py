"""The HTML report and ``detlint show``: cards with thumbnails, self-contained, valid, filterable,
and what a real browser renders from disk."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path

import lxml.html
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detlint import draw
from detlint.cli import main
from detlint.findings import Finding
from detlint.report import Report, render
from detlint.report import html as html_report

CHROMIUM = shutil.which("chromium") or (Path("/usr/bin/chromium").exists() and "/usr/bin/chromium") or None
MAGENTA = np.array(draw.HIGHLIGHT_COLOUR)


def _image(path: Path, size: tuple[int, int], colour: tuple[int, int, int], orientation: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    im.save(path, "JPEG", quality=90, exif=exif.tobytes())


def _yolo(root: Path, names: list[str], nc: int, labels: dict[str, str], images: dict[str, tuple[int, int]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    name_lines = "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nval: images/val\nnc: {nc}\nnames:\n{name_lines}")
    for k, (stem, size) in enumerate(images.items()):
        split = "val" if stem.startswith("val") else "train"
        _image(root / "images" / split / f"{stem}.jpg", size, (40 + 50 * k % 200, 120, 90))
    for stem, text in labels.items():
        split = "val" if stem.startswith("val") else "train"
        label = root / "labels" / split / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(text)
    return root


@pytest.fixture
def defects(tmp_path: Path) -> Path:
    """Planted: a box past the right edge (B002), a zero-width box (B001), an unknown class (C001),
    a class-map problem without an image (C006: nc 3, two names), a label without image (I006)."""
    return _yolo(tmp_path / "defects", ["cat", "dog"], 3, {
        "a": "0 0.5 0.5 0.4 0.4\n1 0.9 0.5 0.4 0.2\n",  # second row reaches x = 1.1
        "b": "0 0.3 0.3 0.0 0.2\n1 0.6 0.6 0.2 0.2\n",  # zero width
        "val_c": "5 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1\n",  # class 5 of nc 2 names
        "orphan": "0 0.5 0.5 0.5 0.5\n",
    }, {"a": (160, 120), "b": (120, 160), "val_c": (100, 100)})


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    return _yolo(tmp_path / "clean", ["cat", "dog"], 2, {"a": "0 0.5 0.5 0.4 0.4\n", "val_b": "1 0.4 0.4 0.2 0.2\n"},
                 {"a": (160, 120), "val_b": (100, 80)})


def _check(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", str(path), "--no-cache", *args])
    return result.exit_code, result.output


def _html_report(path: Path, tmp_path: Path) -> tuple[int, Path]:
    out = tmp_path / f"{path.name}.html"
    status, _ = _check(path, "--output-format", "html", "-o", str(out))
    return status, out


def _json_findings(path: Path) -> list[dict]:
    _, text = _check(path, "--output-format", "json")
    return json.loads(text)["findings"]


def _cards(doc) -> list:
    return doc.xpath(".//article[contains(concat(' ', @class, ' '), ' card ')]")


def _thumbnail(card) -> Image.Image | None:
    sources = card.xpath(".//img/@src")
    if not sources:
        return None
    prefix = "data:image/jpeg;base64,"
    assert sources[0].startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(sources[0][len(prefix):]))).convert("RGB")


def _magenta_pixels(picture: Image.Image) -> int:
    pixels = np.asarray(picture).astype(int)
    return int((np.abs(pixels - MAGENTA).sum(axis=2) < 90).sum())


def test_a_card_per_finding_with_thumbnails(defects: Path, tmp_path: Path) -> None:
    status, out = _html_report(defects, tmp_path)
    assert status == 1
    findings = _json_findings(defects)
    codes = {f["code"] for f in findings}
    assert {"B001", "B002", "C001", "C006"} <= codes
    doc = lxml.html.fromstring(out.read_bytes())
    cards = _cards(doc)
    assert len(cards) == len(findings)
    by_code: dict[str, list] = {}
    for card in cards:
        by_code.setdefault(card.get("data-code"), []).append(card)
    for code in ("B001", "B002", "C001"):
        picture = _thumbnail(by_code[code][0])
        assert picture is not None and max(picture.size) == html_report.THUMB_SIZE
        assert _magenta_pixels(picture) > 20, f"{code}: the offending box is highlighted"
    assert by_code["C001"][0].get("data-split") == "val"
    class_map = by_code["C006"][0]
    assert _thumbnail(class_map) is None
    assert "data.yaml" in class_map.text_content() and "names" in class_map.text_content()
    # a section per rule with its documentation line
    for code in codes:
        assert doc.xpath(f"//section[@id='rule-{code}']//p[@class='doc']")[0].text_content().strip()
    assert "exit status 1" in doc.xpath("//p[contains(@class, 'status')]")[0].text_content()


def test_box_past_the_edge_is_drawn_on_a_padded_canvas(defects: Path, tmp_path: Path) -> None:
    _, out = _html_report(defects, tmp_path)
    card = next(c for c in _cards(lxml.html.fromstring(out.read_bytes())) if c.get("data-code") == "B002")
    picture = np.asarray(_thumbnail(card)).astype(int)
    # The image is 160 px wide, the box reaches 176 px: the canvas is wider than the image, and the
    # highlight shows right of the image border, over the padding.
    magenta = np.abs(picture - MAGENTA).sum(axis=2) < 90
    columns = np.flatnonzero(magenta.any(axis=0))
    image_right = 4 + (256 - 8) * 160 / 176
    assert columns.max() > image_right + 5


def test_report_is_self_contained_and_valid(defects: Path, tmp_path: Path) -> None:
    _, out = _html_report(defects, tmp_path)
    text = out.read_text(encoding="utf-8")
    doc = lxml.html.fromstring(text.encode())
    assert doc.tag == "html" and doc.find("head/title") is not None
    for element in doc.iter():
        for attribute in ("src", "href"):
            value = element.get(attribute)
            if value is not None:
                assert not value.startswith(("http://", "https://", "//")), value
                assert value.startswith(("data:", "#")), value
    assert "<link" not in text and "@import" not in text
    assert doc.xpath("//select[@id='f-code']") and doc.xpath("//select[@id='f-split']")
    assert len(doc.xpath("//input[@name='sev']")) == 3


def test_clean_dataset_has_no_cards(clean: Path, tmp_path: Path) -> None:
    status, out = _html_report(clean, tmp_path)
    doc = lxml.html.fromstring(out.read_bytes())
    assert status == 0
    assert _cards(doc) == []
    assert "exit status 0" in doc.text_content() and "No findings" in doc.text_content()


def test_cards_are_capped_per_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = {f"img{i}": "0 0.3 0.3 0.0 0.2\n0 0.3 0.3 0.2 0.0\n" for i in range(4)}
    root = _yolo(tmp_path / "many", ["cat"], 1, labels, dict.fromkeys(labels, (64, 48)))
    monkeypatch.setenv(html_report.ENV_MAX_CARDS, "3")
    monkeypatch.setenv(html_report.ENV_THUMB_SIZE, "96")
    _, out = _html_report(root, tmp_path)
    doc = lxml.html.fromstring(out.read_bytes())
    degenerate = doc.xpath("//section[@id='rule-B001']")[0]
    assert len(_cards(degenerate)) == 3
    assert "5 more not shown" in degenerate.text_content()
    assert max(_thumbnail(_cards(degenerate)[0]).size) == 96


def test_report_without_datasets_renders_text_cards() -> None:
    report = Report(findings=[Finding("F001", "XML does not parse", file="a.xml", line=1, dataset="d")],
                    datasets=[{"path": "d", "format": "voc", "images": 0, "annotations": 0, "categories": 0}])
    doc = lxml.html.fromstring(render("html", report).encode())
    cards = _cards(doc)
    assert len(cards) == 1 and "d/a.xml:1" in cards[0].text_content() and not cards[0].xpath(".//img")


def test_html_escapes_text(tmp_path: Path) -> None:
    report = Report(findings=[Finding("B002", "<script>alert(1)</script>", file="x'.xml", dataset="d")],
                    datasets=[{"path": "d", "format": "voc", "images": 0, "annotations": 0, "categories": 0}])
    text = render("html", report)
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text


def test_stats_panels_or_a_note(defects: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    _, out = _html_report(defects, tmp_path)
    doc = lxml.html.fromstring(out.read_bytes())
    panels = doc.xpath("//section[@id='stats']//img/@src")
    assert len(panels) == 3 and all(p.startswith("data:image/png;base64,") for p in panels)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    _, out = _html_report(defects, tmp_path)
    assert "matplotlib is not installed" in out.read_text(encoding="utf-8")


# -- drawing ------------------------------------------------------------------------------------


def test_thumbnail_follows_exif_orientation(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    _image(path, (200, 100), (200, 30, 30), orientation=6)  # stored landscape, shown portrait
    scene = draw.Scene(path, (100, 200), np.array([[10.0, 10.0, 90.0, 190.0]]), np.zeros(1, bool), ["cat"], [0])
    picture = draw.render(scene, 128)
    assert picture.height > picture.width


def test_missing_image_becomes_a_placeholder_with_boxes(tmp_path: Path) -> None:
    scene = draw.Scene(tmp_path / "gone.jpg", (300, 100), np.array([[0.1, 0.1, 0.5, 0.9]]), np.ones(1, bool),
                       ["cat"], [0], frozenset({0}))
    picture = draw.render(scene, 128)
    assert picture.width > 2 * picture.height  # the declared 3:1 size
    assert _magenta_pixels(picture) > 20  # the normalised box, scaled by that size


def test_absurd_coordinates_still_draw(tmp_path: Path) -> None:
    boxes = np.array([[1e300, 0.0, 2e300, 10.0], [-1e300, -5.0, 10.0, 10.0], [np.nan, 0, np.inf, 4], [1, 1, 5, 5]])
    scene = draw.Scene(None, (64, 48), boxes, np.zeros(4, bool), ["a", "b", "c", "d"], [0, 1, 2, 3], frozenset({0, 2}))
    assert max(draw.render(scene, 128).size) == 128
    assert max(draw.render(scene).size) <= draw.MAX_FULL_SIDE + 200


def test_show_writes_a_png(defects: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["show", str(defects), "a"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "a.detlint.png"
    with Image.open(written) as picture:
        assert picture.format == "PNG" and max(picture.size) >= 160
    out = tmp_path / "b.png"
    assert CliRunner().invoke(main, ["show", str(defects), "images/train/b.jpg", "-o", str(out)]).exit_code == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_show_unknown_image_is_exit_2(defects: Path) -> None:
    result = CliRunner().invoke(main, ["show", str(defects), "nothere.jpg"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "not in the dataset" in result.output


# -- a real browser -----------------------------------------------------------------------------


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_chromium_renders_the_report(defects: Path, tmp_path: Path) -> None:
    _, out = _html_report(defects, tmp_path)
    url = out.resolve().as_uri()
    screenshot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2000", url)
    assert screenshot.exists(), "Chromium wrote no screenshot"
    with Image.open(screenshot) as shot:
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "the screenshot is blank"
    dom = _chromium(tmp_path, "--dump-dom", url).stdout.decode("utf-8", errors="replace")
    rendered = lxml.html.fromstring(dom)
    assert len(_cards(rendered)) == len(_json_findings(defects))
    # the filter script ran and counted the cards
    assert rendered.xpath("//span[@id='f-count']")[0].text_content().startswith(str(len(_cards(rendered))))


# -- layout, legend, source lines, axes and drawing cost (#15 item 29) ---------------------------


def _layout_in_chromium(report: Path, tmp_path: Path, width: int) -> list[list[float]]:
    """[left, top, width] of every card as Chromium lays the report out in a ``width`` px window."""
    probe = tmp_path / "probe.html"
    script = ("<script>document.body.setAttribute('data-rects', JSON.stringify(Array.from("
              "document.querySelectorAll('article.card')).map(function(c){var r=c.getBoundingClientRect();"
              "return [r.left, r.top, r.width];})));</script></body>")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", script), encoding="utf-8")
    dom = _chromium(tmp_path, f"--window-size={width},2000", "--dump-dom", probe.resolve().as_uri()).stdout
    return json.loads(lxml.html.fromstring(dom).xpath("//body/@data-rects")[0])


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_cards_of_several_rules_share_the_page_width(defects: Path, tmp_path: Path) -> None:
    _, out = _html_report(defects, tmp_path)
    rects = _layout_in_chromium(out, tmp_path, 1280)
    assert len(rects) == len(_json_findings(defects)) >= 5
    lefts = {round(left) for left, _, _ in rects}
    assert len(lefts) >= 3, f"one rule per row leaves the page empty: {rects}"
    assert max(left + width for left, _, width in rects) > 1280 * 0.7


def test_legend_says_how_the_offending_box_is_drawn(defects: Path, clean: Path, tmp_path: Path) -> None:
    _, out = _html_report(defects, tmp_path)
    legend = lxml.html.fromstring(out.read_bytes()).xpath("//*[@id='legend']")
    assert len(legend) == 1
    assert "the finding's box" in legend[0].text_content()
    assert "rgb({},{},{})".format(*draw.HIGHLIGHT_COLOUR) in lxml.html.tostring(legend[0]).decode()
    _, out = _html_report(clean, tmp_path)
    assert not lxml.html.fromstring(out.read_bytes()).xpath("//*[@id='legend']")  # no pictures, no legend


def test_finding_without_a_box_shows_its_source_line(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "bad", ["cat"], 1, {
        "a": "0 0.5 0.5 0.2 0.2\n0 <script>alert(1)</script> 0.5 0.2 0.2\n",  # line 2: F006
    }, {"a": (64, 48)})
    (root / "labels" / "train" / "b.txt").write_bytes(b"0 0.5 0.5 0.2\x1b[31m 0.2\n")  # control character
    _image(root / "images" / "train" / "b.jpg", (64, 48), (10, 10, 10))
    _, out = _html_report(root, tmp_path)
    text = out.read_text(encoding="utf-8")
    doc = lxml.html.fromstring(text.encode())
    malformed = [c for c in _cards(doc) if c.get("data-code") == "F006"]
    assert len(malformed) == 2
    sources = {card.xpath(".//pre[@class='src']")[0].text_content() for card in malformed}
    assert not [card for card in malformed if card.xpath(".//img")]  # the line instead of a thumbnail
    assert any("2 | 0 <script>alert(1)</script> 0.5 0.2 0.2" in s for s in sources)
    assert any("\\x1b[31m" in s for s in sources) and "\x1b" not in text
    assert len(doc.xpath("//script")) == 1  # the report's own filter script only
    boxed = next(c for c in _cards(doc) if c.get("data-code") not in ("F006",) and c.xpath(".//img"))
    assert not boxed.xpath(".//pre[@class='src']")


def test_box_size_axis_has_plain_tick_labels(defects: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    saved: list = []
    real_savefig = Figure.savefig

    def keep(fig: Figure, *args: object, **kwargs: object) -> None:
        real_savefig(fig, *args, **kwargs)
        saved.append(fig)

    monkeypatch.setattr(Figure, "savefig", keep)
    _html_report(defects, tmp_path)
    axes = [ax for fig in saved for ax in fig.axes if ax.get_xlabel().startswith("sqrt(box area)")]
    assert len(axes) == 1
    labels = [label.get_text() for label in axes[0].get_xticklabels() if label.get_text()]
    assert len(labels) >= 2
    assert all(label.replace(".", "", 1).isdigit() for label in labels), labels
    assert matplotlib.__version__


def test_every_box_is_drawn_once_per_image_not_once_per_card(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # 300 boxes of one image, each tiny and extreme (B005 + B007): 100 cards of one picture.
    rows = "".join(f"0 {0.1 + (i % 30) / 40:.4f} {0.1 + (i // 30) / 12:.4f} 0.001 0.06\n" for i in range(300))
    root = _yolo(tmp_path / "dense", ["cat"], 1, {"a": rows}, {"a": (640, 480)})
    labels: list[str] = []
    real_label = draw._label

    def count_label(canvas: object, rect: object, text: str, *rest: object) -> None:
        labels.append(text)
        real_label(canvas, rect, text, *rest)

    monkeypatch.setattr(draw, "_label", count_label)
    _, out = _html_report(root, tmp_path)
    cards = _cards(lxml.html.fromstring(out.read_bytes()))
    assert len(cards) >= 2 * html_report.MAX_CARDS_PER_RULE
    assert len(labels) <= 300 + len(cards)  # was 300 per card: 30,000 labels drawn, 25 s for 5,000 boxes
    pictures = [_thumbnail(card) for card in cards if card.get("data-code") == "B007"][:3]
    assert all(_magenta_pixels(p) > 5 for p in pictures)
    assert len({p.tobytes() for p in pictures}) == 3  # each card highlights its own box
