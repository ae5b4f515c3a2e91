"""``--fix`` on VOC XML rewrites only the elements it changes (#15 item 26): ``<pose></pose>``,
single quotes, comments, objects written on one line and a missing final newline keep their
bytes, in the objects it did not change and around the values it did."""

from __future__ import annotations

from pathlib import Path

from helpers import write_image

from detlint.checking import CheckRequest, run_check


def _obj(name: str, box: tuple[int, int, int, int], extra: str = "<pose></pose><truncated></truncated>") -> str:
    return (f"<object><name>{name}</name>{extra}<difficult>0</difficult><bndbox><xmin>{box[0]}</xmin>"
            f"<ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox></object>")


def _root(tmp_path: Path, xml: str, size: tuple[int, int] = (100, 80)) -> Path:
    root = tmp_path / "voc"
    write_image(root / "a.jpg", size)
    (root / "a.xml").write_bytes(xml.encode())
    return root


def _fix(root: Path, **options) -> str:
    run_check(CheckRequest(paths=[root], use_cache=False, fix=True, **options))
    return (root / "a.xml").read_bytes().decode()


HEAD = "<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>"


def test_a_one_line_file_changes_only_the_dropped_object_and_the_clipped_value(tmp_path: Path) -> None:
    keep, drop, clip = _obj("cat", (10, 10, 50, 40)), _obj("dog", (50, 10, 20, 40)), _obj("cat", (60, 10, 110, 40))
    root = _root(tmp_path, HEAD + keep + drop + clip + "</annotation>")
    clipped = clip.replace("<xmax>110</xmax>", "<xmax>100</xmax>")
    assert _fix(root, unsafe_fixes=True) == HEAD + keep + clipped + "</annotation>"


def test_lines_holding_several_elements_keep_their_bytes(tmp_path: Path) -> None:
    xml = ("<?xml version='1.0' encoding='utf-8'?>\n<annotation verified='yes'>\n"
           "  <filename>a.jpg</filename> <!-- kept -->\n"
           "  <size><width>100</width><height>80</height><depth>3</depth></size>\n"
           "  <object>\n    <name>cat</name><pose></pose>\n    <bndbox><xmin>10</xmin><ymin>10</ymin>"
           "<xmax>50</xmax><ymax>40</ymax></bndbox>\n  </object>\n"
           "  <object>\n    <name>dog</name><occluded></occluded>\n    <bndbox><xmin>60</xmin>"
           "<ymin>10</ymin><xmax>110</xmax><ymax>40</ymax></bndbox><pose></pose>\n  </object>\n"
           "  <object>\n    <name>dog</name>\n    <bndbox><xmin>30</xmin><ymin>30</ymin>"
           "<xmax>29</xmax><ymax>60</ymax></bndbox>\n  </object>\n</annotation>\n")
    root = _root(tmp_path, xml)
    dropped = ("\n  <object>\n    <name>dog</name>\n    <bndbox><xmin>30</xmin><ymin>30</ymin>"
               "<xmax>29</xmax><ymax>60</ymax></bndbox>\n  </object>")
    expected = xml.replace("<xmax>110</xmax>", "<xmax>100</xmax>").replace(dropped, "")
    assert _fix(root, unsafe_fixes=True) == expected


def test_a_filled_size_is_the_only_change(tmp_path: Path) -> None:
    objects = _obj("cat", (10, 10, 50, 40)) + _obj("dog", (20, 20, 30, 30))
    root = _root(tmp_path, "<annotation><filename>a.jpg</filename><size><width>0</width><height>0</height></size>"
                 + objects + "</annotation>\n", size=(64, 48))
    assert _fix(root) == (f"<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height></size>"
                          f"{objects}</annotation>\n")


def test_an_added_size_is_inserted_and_nothing_else_moves(tmp_path: Path) -> None:
    objects = "\n\t" + _obj("cat", (10, 10, 50, 40)) + "\n\t" + _obj("dog", (20, 20, 30, 30))
    root = _root(tmp_path, "<annotation>\n\t<filename>a.jpg</filename>" + objects + "\n</annotation>", size=(64, 48))
    assert _fix(root) == ("<annotation>\n\t<filename>a.jpg</filename>\n\t<size>\n\t\t<width>64</width>\n"
                          "\t\t<height>48</height>\n\t</size>" + objects + "\n</annotation>")
