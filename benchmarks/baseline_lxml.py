"""Baseline (b) ``lxml-bare``: lxml iterparse over ``ReportItem`` end events (tag filter),
reading each item's attributes and ``plugin_output``, clearing the element and its previous
siblings so memory stays flat."""
import sys

from lxml import etree


def run(path: str) -> int:
    n = 0
    for _event, el in etree.iterparse(path, events=("end",), tag="ReportItem", huge_tree=True,
                                      resolve_entities=False, no_network=True, load_dtd=False):
        attrs = dict(el.attrib)
        out = el.findtext("plugin_output")
        n += 1 if attrs or out else 1
        el.clear()
        parent = el.getparent()
        while el.getprevious() is not None:
            del parent[0]
    return n


if __name__ == "__main__":
    print(run(sys.argv[1]))
