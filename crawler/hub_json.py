"""What a Hub repo JSON says about itself, read the same way by the spider and by assessment."""

from __future__ import annotations


def siblings_name_every_file(info: object) -> bool:
    """Whether a repo JSON's `siblings` list the whole repo: the Hub's always do; a source that could not capture
    them, or built them from a partial list, says so (the loopback replica's `_replica.not_captured` /
    `not_exhaustive`)."""
    siblings = info.get("siblings") if isinstance(info, dict) else None
    if not isinstance(siblings, list) or not siblings or \
            not all(isinstance(s, dict) and isinstance(s.get("rfilename"), str) for s in siblings):
        return False
    replica = info.get("_replica") if isinstance(info.get("_replica"), dict) else {}
    return not {"siblings"} & {*(replica.get("not_captured") or []), *(replica.get("not_exhaustive") or [])}
