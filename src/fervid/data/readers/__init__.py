"""Dataset readers: each turns a dataset as distributed into a :class:`~.common.Listing`."""

from __future__ import annotations

import importlib
import inspect

from fervid.data.readers.common import Item, Listing, check_unique
from fervid.errors import FervidError

# --format name -> module; each module has read(src, **options) -> Listing.
READERS = {
    "oulu": "oulu",
    "ckplus": "ckplus",
    "folders": "folders",
    "dfew": "dfew",
    "ferv39k": "ferv39k",
    "mafw": "mafw",
    "csv": "csvlist",
}


def read_listing(fmt: str, src, **options) -> Listing:
    if fmt not in READERS:
        raise FervidError(f"unknown dataset format {fmt!r} (choose from {', '.join(READERS)})")
    module = importlib.import_module(f"fervid.data.readers.{READERS[fmt]}")
    allowed = set(inspect.signature(module.read).parameters) - {"src"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise FervidError(f"--format {fmt} takes no option {', '.join(unknown)}")
    listing = module.read(src, **options)
    check_unique(listing.items)
    return listing


__all__ = ["READERS", "Item", "Listing", "read_listing"]
