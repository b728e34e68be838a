"""Fixture repositories for `repo-rlm review`, built with real git: a base commit and a head commit.

Known answers are in tests/test_review.py. Used by the tests and by bench/bench_review.py.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def write(root: Path, files: dict[str, str | bytes | None]) -> None:
    for path, content in files.items():
        f = root / path
        if content is None:
            f.unlink()
            continue
        f.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            f.write_bytes(content)
        else:
            f.write_text(content)


def make(root: Path, base: dict, head: dict, renames: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A repository whose `branch` has two commits: `base`, then `head` (None deletes; renames first)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", branch)
    write(root, base)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    for old, new in (renames or {}).items():
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        git(root, "mv", old, new)
    write(root, head)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "head")
    return root


SHOP_BASE = {
    "shop/__init__.py": "",
    "shop/pricing.py": '''\
STOCK = {"a1", "b2"}


def total(items, tax):
    """Sum of prices with tax."""
    return sum(i.price for i in items) * (1 + tax)


def discount(price, pct=0):
    return price * (1 - pct / 100)


def legacy_round(x):
    return round(x, 2)


def reserve(sku):
    return sku in STOCK


class Cart:
    def __init__(self, items):
        self.items = items

    def checkout(self, tax):
        return total(self.items, tax)
''',
    "shop/orders.py": '''\
from shop.pricing import total, discount as disc, legacy_round, reserve


def place(items):
    t = total(items, 0.2)
    return legacy_round(disc(t, pct=10))


def ship(sku):
    if reserve(sku):
        return "shipped"
    return "waiting"
''',
    "shop/report.py": '''\
from shop import pricing as p
from shop.shipping import cost


def summary(items):
    return p.total(items, 0.1) + cost(len(items))
''',
    "shop/shipping.py": '''\
def cost(weight):
    return weight * 2
''',
    "shop/gift.py": '''\
from shop.pricing import Cart


class GiftCart(Cart):
    def checkout(self, tax):
        return 0
''',
    "shop/util_old.py": '''\
def slug(s):
    """A URL-safe name."""
    return s.lower()


def title(s):
    return s.title()
''',
    "shop/catalog.py": '''\
from shop.util_old import slug


def name_of(x):
    return slug(x)
''',
    "shop/search.py": '''\
from shop.util_old import title


def heading(x):
    return title(x)
''',
    "shop/legacy.py": '''\
def old_api():
    return 1
''',
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "tests/test_pricing.py": '''\
from shop.pricing import total


def test_total():
    assert total([], 0.1) == 0
''',
}

SHOP_HEAD = {
    "shop/pricing.py": '''\
STOCK = {"a1", "b2"}


def total(items, tax, currency):
    """Sum of prices with tax."""
    return sum(i.price for i in items) * (1 + tax)


def discount(price, percent=0):
    return price * (1 - percent / 100)


def reserve(sku):
    STOCK.discard(sku)


class Cart:
    def __init__(self, items):
        self.items = items

    def checkout(self, tax):
        return total(self.items, tax, "EUR")
''',
    "shop/util.py": '''\
def slug(s):
    """A URL-safe name."""
    return s.strip().lower()


def title(s):
    return s.title()
''',
    "shop/catalog.py": '''\
from shop.util import slug


def name_of(x):
    return slug(x)
''',
    "shop/shipping.py": '''\
def cost(weight):
    return weight * 3 + 1
''',
    "shop/promo.py": '''\
from shop.pricing import discount


def promo(price):
    return discount(price, pct=5)
''',
    "shop/legacy.py": None,
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1)),
    "tests/test_pricing.py": '''\
from shop.pricing import total


def test_total():
    assert total([], 0.1, "EUR") == 0
''',
}

BODY_BASE = {
    "geo/__init__.py": "",
    "geo/calc.py": "def area(w, h):\n    return w * h\n",
    "geo/main.py": "from geo.calc import area\n\n\ndef run():\n    return area(2, 3)\n",
}
BODY_HEAD = {"geo/calc.py": "def area(w, h):\n    # float results everywhere\n    return float(w * h)\n"}


POLY_BASE = {
    "web/math.ts": "export function add(a: number, b: number): number {\n  return a + b;\n}\n\n"
                   "export function scale(x: number): number {\n  return x * 2;\n}\n",
    "web/app.ts": "import { add as plus, scale } from './math';\n\nexport function main() {\n"
                  "  return plus(1, 2) + scale(3);\n}\n",
    "svc/calc.go": "package svc\n\nfunc Mul(a int, b int) int {\n\treturn a * b\n}\n",
    "svc/use.go": "package svc\n\nfunc Use() int {\n\treturn Mul(2, 3)\n}\n",
    "geom/src/lib.rs": "pub struct Sq { pub s: f64 }\n\nimpl Sq {\n    pub fn area(&self) -> f64 {\n"
                       "        self.s * self.s\n    }\n}\n\npub fn total(q: &Sq) -> f64 {\n    q.area()\n}\n",
}
POLY_HEAD = {
    # a required third parameter: the aliased call breaks
    "web/math.ts": "export function add(a: number, b: number, c: number): number {\n  return a + b + c;\n}\n\n"
                   "export function scale(x: number, by?: number): number {\n  return x * (by ?? 2);\n}\n",
    "svc/calc.go": "package svc\n\nfunc Mul(a int, b int, c int) int {\n\treturn a * b * c\n}\n",
    "geom/src/lib.rs": "pub struct Sq { pub s: f64 }\n\nimpl Sq {\n    pub fn area(&self, k: f64) -> f64 {\n"
                       "        self.s * self.s * k\n    }\n}\n\npub fn total(q: &Sq) -> f64 {\n    q.area()\n}\n",
}


def polyglot(root: Path) -> Path:
    return make(root, POLY_BASE, POLY_HEAD)


def shop(root: Path) -> Path:
    return make(root, SHOP_BASE, SHOP_HEAD, renames={"shop/util_old.py": "shop/util.py"})


def body_only(root: Path) -> Path:
    return make(root, BODY_BASE, BODY_HEAD)
