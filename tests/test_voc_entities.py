"""VOC files that use XML entities (issue 14): entities stay unexpanded (XXE), and the finding says so."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from detlint.cli import main
from tests.helpers import write_image

OBJECT = "<object><name>{name}</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"


def voc_dataset(root: Path, doctype: str, name: str) -> Path:
    write_image(root / "JPEGImages" / "a.jpg", (32, 32))
    xml = (f'<?xml version="1.0"?>\n{doctype}\n<annotation>\n<filename>a.jpg</filename>\n'
           f"<size><width>32</width><height>32</height><depth>3</depth></size>\n"
           f"{OBJECT.format(name='cat')}\n{OBJECT.format(name=name)}\n</annotation>\n")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(xml)
    return root


def findings_of(root: Path) -> list[dict]:
    result = CliRunner().invoke(main, ["check", str(root), "--no-cache", "--output-format", "json"])
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)["findings"]


def test_an_internal_entity_is_an_f001_that_names_it(tmp_path: Path) -> None:
    root = voc_dataset(tmp_path / "ds", '<!DOCTYPE annotation [<!ENTITY c "cat">]>', "&c;")
    findings = findings_of(root)
    f001 = [f for f in findings if f["code"] == "F001"]
    assert len(f001) == 1
    assert f001[0]["file"] == "Annotations/a.xml" and f001[0]["line"] == 7  # the object using it
    assert "&c;" in f001[0]["message"] and "entit" in f001[0]["message"]
    assert not any("no <name>" in f["message"] for f in findings)


def test_an_external_entity_is_refused_the_same_way(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read")
    root = voc_dataset(tmp_path / "ds", f'<!DOCTYPE annotation [<!ENTITY x SYSTEM "file://{secret}">]>', "&x;")
    findings = findings_of(root)
    assert [f["code"] for f in findings if f["code"] == "F001"] == ["F001"]
    assert "&x;" in findings[0]["message"]
    assert "do-not-read" not in json.dumps(findings)
