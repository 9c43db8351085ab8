"""Checks every internal link and image of a built HTML site: the file exists, and so does the anchor.

Usage: python docs/check_links.py docs/_build/html. External links (with a scheme such as https:)
are not fetched. Exits 1 and lists every broken link, else prints how many links it checked.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") == "preconnect"):
                self.links.append(attrs[key])


def _parse(path, cache):
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def broken_links(root):
    """[(page, link, reason)] for the site under ``root``; also the number of links checked."""
    root, cache, broken, checked = Path(root).resolve(), {}, [], 0
    for page_path in sorted(root.rglob("*.html")):
        if page_path.relative_to(root).parts[0] == "_static":
            continue  # the theme's template fragments, not pages
        for link in _parse(page_path, cache).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue  # external: not fetched
            checked += 1
            target = page_path if not parts.path else (page_path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(root) or not target.exists():
                broken.append((page_path.relative_to(root), link, "no such file"))
            elif parts.fragment and target.suffix == ".html" and \
                    unquote(parts.fragment) not in _parse(target, cache).ids:
                broken.append((page_path.relative_to(root), link, "no such anchor"))
    return broken, checked


def main(argv):
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    broken, checked = broken_links(argv[1])
    for page, link, reason in broken:
        print(f"{page}: {link}: {reason}", file=sys.stderr)
    print(f"internal links: {checked} checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
