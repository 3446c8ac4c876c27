"""Build the bundled snapshot (data/snapshot): the corpus folders of the labelled systems, copied verbatim.

The snapshot is derived data: a selection from a corpus, no file changed. It holds every Hub model and GitHub repo
that a label file links to and that the corpus captured, plus the base models and datasets those models' cards
name (one step along the subject graph), with their PROVENANCE.md and the corpus MANIFEST lines for them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from crawler.corpus import Corpus, CorpusError
from crawler.labels import repos_in_label_dir


def _as_list(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def select(corpus: Corpus, labels_dir: Path, also: tuple[str, ...] = ()) -> tuple[list, list, list]:
    """The model, dataset and GitHub captures the snapshot keeps: what the labels link to, plus `also`."""
    named_models, named_github = repos_in_label_dir(labels_dir)
    named_models = [*named_models, *also]
    if not named_models and not named_github:
        raise CorpusError(f"{labels_dir}: no label file links to a Hugging Face or GitHub repo")
    models = {m.lower(): corpus.models[m.lower()] for m in named_models if m.lower() in corpus.models}
    datasets = {}
    for model in list(models.values()):
        try:
            meta = model.front_matter or {}
        except CorpusError:
            continue
        for base in _as_list(meta.get("base_model")):
            if base.lower() in corpus.models:
                models.setdefault(base.lower(), corpus.models[base.lower()])
        for dataset in _as_list(meta.get("datasets")):
            if dataset.lower() in corpus.datasets:
                datasets[dataset.lower()] = corpus.datasets[dataset.lower()]
    github = {g.lower(): corpus.github[g.lower()] for g in named_github if g.lower() in corpus.github}
    return ([models[k] for k in sorted(models)], [datasets[k] for k in sorted(datasets)],
            [github[k] for k in sorted(github)])


def check_out(corpus_dir: Path, out: Path) -> None:
    """`out` may be replaced only when it is not the corpus (nor inside it, nor holding it) and is empty, missing or
    a snapshot this command wrote (its README says so): nothing else is ever deleted."""
    corpus, target = corpus_dir.resolve(), out.resolve()
    if target == corpus or corpus in target.parents or target in corpus.parents:
        raise CorpusError(f"--out {out} is the corpus {corpus_dir} or overlaps it: choose another folder")
    if target.exists():
        if not target.is_dir():
            raise CorpusError(f"--out {out} is a file, not a folder")
        readme = target / "README.md"
        ours = readme.exists() and readme.read_text(encoding="utf-8", errors="replace").startswith(SNAPSHOT_TITLE)
        if any(target.iterdir()) and not ours:
            raise CorpusError(f"--out {out} holds files that are not a snapshot written by `openness snapshot`: "
                              f"nothing was changed; give an empty or new folder")


def build(corpus_dir: Path, labels_dir: Path, out: Path, also: tuple[str, ...] = ()) -> dict[str, int]:
    """Write the snapshot into a temporary folder beside `out`, then swap it in: an error half-way leaves `out` as
    it was."""
    check_out(corpus_dir, out)
    corpus = Corpus(corpus_dir)
    models, datasets, github = select(corpus, labels_dir, also)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        kept_paths = []
        for capture in [*models, *datasets, *github]:
            shutil.copytree(capture.folder, staging / capture.corpus_path)
            kept_paths.append(capture.corpus_path + "/")
        manifest = (corpus_dir / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
        kept = [manifest[0]] + [line for line in manifest[1:] if line.startswith(tuple(kept_paths))]
        (staging / "MANIFEST.tsv").write_text("\n".join(kept) + "\n", encoding="utf-8")
        if (corpus_dir / "README.md").exists():
            shutil.copy(corpus_dir / "README.md", staging / "CORPUS_README.md")
        counts = {"models": len(models), "datasets": len(datasets), "github": len(github), "files": len(kept) - 1}
        also_text = ", ".join(also) if also else "none"
        (staging / "README.md").write_text(SNAPSHOT_README.format(**counts, also=also_text), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}-old-{staging.name[-8:]}")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)
    return counts


SNAPSHOT_TITLE = "# Bundled snapshot (derived data)"
SNAPSHOT_README = SNAPSHOT_TITLE + """

A selection from the project's corpus of real evidence captured from Hugging Face and GitHub, in the same format
(see CORPUS_README.md, the corpus's own description, and docs/corpus.md). Nothing here was written for the project:
every file is copied verbatim from the corpus, with each folder's PROVENANCE.md naming where it came from. The
texts belong to their authors and are redistributed as evidence under their repositories' terms.

Derived by `openness snapshot` (crawler/snapshot.py): every Hub model and GitHub repo linked from an expert label
file (labels of the European Open Source AI Index, https://osai-index.eu, and opening-up-chatgpt,
http://opening-up-chatgpt.github.io; CC-BY 4.0; Liesenfeld & Dingemanse (2024), "Rethinking open source generative
AI: open-washing and the EU AI Act", FAccT '24, doi:10.1145/3630106.3659005) that the corpus captured, plus the base
models and datasets their cards name, and the models named with `--also` ({also}): systems that a label or the seed
table names without a Hub link.

Counts: {models} models, {datasets} datasets, {github} GitHub repos, {files} files (MANIFEST.tsv lists each with
its size and sha256).
"""
