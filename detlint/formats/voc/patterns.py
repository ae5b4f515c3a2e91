"""The regular expressions of the plain fast path (:mod:`.plain`), and the byte tests before them.

A document of only the tags the reader knows, without attributes, comments, entities or CDATA,
in UTF-8, is matched by these patterns and read from its text directly (several times faster
than lxml plus walking its tree in Python). Whitespace is XML's own (Python's ``\\s`` would also
take \\x0b, \\xa0, ...). Compiled once at import; nothing here changes afterwards.
"""

from __future__ import annotations

import re

from detlint.model import ABSENT_INT

_SPACE = "[ \t\n]*"
_TEXT = "([^<&]*)"
PLAIN_START = re.compile(
    r"""(?:<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.0\1"""
    r"""(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])(?i:utf-8)\2)?"""
    r"""(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(?:yes|no)\3)?[ \t\n]*\?>)?"""
    rf"{_SPACE}<annotation>")
# printable ASCII without & < >: lxml serialises such text back byte for byte
_VERBATIM_TEXT = r"[\t\n !-%'-;=?-~]+"
_IMAGE_FIELD = (
    r"<(?P<leaf>folder|filename|path|segmented)>(?P<text>[^<&]*)</(?P=leaf)>"
    r"|(?P<size><size>(?:[ \t\n]*<(?P<stag>width|height|depth)>[^<&]*</(?P=stag)>)*[ \t\n]*</size>)"
    r"|(?P<verbatim><(?P<vtag>source|owner)>(?:[ \t\n]*<(?P<sub>[A-Za-z_][A-Za-z0-9_.-]*)>"
    + _VERBATIM_TEXT + r"</(?P=sub)>)+[ \t\n]*</(?P=vtag)>)"
    r"|(?P<end></annotation>[ \t\n]*\Z)")
# any order, any subset of the known object fields (the second tier)
PLAIN_CHILD = re.compile(
    _SPACE + r"(?:"
    r"(?P<object><object>(?:[ \t\n]*(?:<(?P<otag>name|pose|truncated|difficult|occluded)>[^<&]*"
    r"</(?P=otag)>|<bndbox>(?:[ \t\n]*<(?P<btag>xmin|ymin|xmax|ymax)>[^<&]*</(?P=btag)>)*"
    r"[ \t\n]*</bndbox>))*[ \t\n]*</object>)|" + _IMAGE_FIELD + ")")
# image fields between canonical objects; "gap" where the stretch ends before the next object
PLAIN_IMAGE_FIELD = re.compile(_SPACE + "(?:" + _IMAGE_FIELD + r"|(?P<gap>\Z))")
# the devkit / LabelImg object layout (the first tier): read as columns, one match per object
CANONICAL_OBJECT = re.compile(
    f"<object>{_SPACE}<name>{_TEXT}</name>{_SPACE}(?:<pose>{_TEXT}</pose>{_SPACE})?"
    + "".join(f"(?:<{tag}>{_TEXT}</{tag}>{_SPACE})?" for tag in ("truncated", "difficult", "occluded"))
    + f"<bndbox>{_SPACE}"
    + "".join(f"<{tag}>{_TEXT}</{tag}>{_SPACE}" for tag in ("xmin", "ymin", "xmax", "ymax"))
    + f"</bndbox>{_SPACE}</object>{_SPACE}")  # trailing space too: neighbours touch
PLAIN_LEAF = re.compile(r"<([a-z]+)>([^<&]*)</\1>")


def _verbatim_field(tag: str) -> str:
    return (rf"(?P<{tag}><{tag}>(?:[ \t\n]*<(?P<{tag}_sub>[A-Za-z_][A-Za-z0-9_.-]*)>{_VERBATIM_TEXT}"
            rf"</(?P={tag}_sub)>)+[ \t\n]*</{tag}>){_SPACE}")


# the image fields in the devkit / LabelImg order, each optional, in one match
CANONICAL_IMAGE_FIELDS = re.compile(
    _SPACE + "".join(f"(?:<{tag}>(?P<{tag}>[^<&]*)</{tag}>{_SPACE})?" for tag in ("folder", "filename", "path"))
    + f"(?:{_verbatim_field('source')})?(?:{_verbatim_field('owner')})?"
    + f"(?P<size><size>{_SPACE}<width>(?P<width>[^<&]*)</width>{_SPACE}<height>(?P<height>[^<&]*)</height>"
    + f"{_SPACE}(?:<depth>(?P<depth>[^<&]*)</depth>{_SPACE})?</size>{_SPACE})?"
    + f"(?:<segmented>(?P<segmented>[^<&]*)</segmented>{_SPACE})?"
    + r"(?P<end></annotation>[ \t\n]*)?\Z")
# control characters XML forbids (tab and line ends are allowed), U+FFFE, U+FFFF, "]]>", entities
NOT_XML_BYTES = bytes([*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20)])
NOT_PLAIN_SEQUENCES = (b"]]>", b"\xef\xbf\xbe", b"\xef\xbf\xbf", b"&")
# bytes that start any of the above, or a carriage return: one pass finds whether to look closer
SUSPECT_BYTES = NOT_XML_BYTES + b"\r]&\xef"
PLAIN_MAX_BYTES = 1 << 20  # bigger files: lxml (it applies its own size limits)
PLAIN_MAX_LINES = 65000  # lxml line numbers are exact up to 65535
FLAG_TEXT: dict[str | None, int] = {None: ABSENT_INT, "0": 0, "1": 1}  # the usual flag texts
