"""The replica serves the project's full corpus (../shared/corpus), not only the bundled snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.corpus import Corpus
from crawler.replica.server import ReplicaApp

FULL_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not FULL_CORPUS.is_dir(), reason=f"the full corpus is not beside the clone: {FULL_CORPUS}")


def test_every_model_of_the_full_corpus_is_served_or_said_not_captured():
    corpus = Corpus(FULL_CORPUS)
    app = ReplicaApp(corpus)
    base = "http://replica"
    assert len(corpus.models) > 500 and len(corpus.github) > 100
    for repo in corpus.models.values():
        info = app.handle("GET", f"/api/models/{repo.repo_id}", {}, base)
        assert info.status == 200, repo.repo_id
        assert json.loads(info.body)["sha"] == repo.revision_sha
        card = app.handle("GET", f"/{repo.repo_id}/resolve/main/README.md", {}, base)
        assert card.status == (200 if repo.capture["card"] != "none" else 501), repo.repo_id
        tree = app.handle("GET", f"/api/models/{repo.repo_id}/tree/main?recursive=true", {}, base)
        assert tree.status == (200 if repo.file_list is not None else 501), repo.repo_id
    for repo in corpus.github.values():
        tree = app.handle("GET", f"/repos/{repo.full_name}/git/trees/main?recursive=1", {}, base)
        assert tree.status == 200 and json.loads(tree.body)["tree"], repo.full_name
