"""The git object id of a blob: what GitHub's trees and the Hub's ETag of a (non-LFS) file name its bytes by."""

from __future__ import annotations

import hashlib


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
