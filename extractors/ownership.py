"""Which GitHub repos are a model's own: the test the code criteria (training code, code documentation, package)
read them by. An owner is the Hub organisation under another spelling (`databrickslabs` for `databricks`,
`huggingface` for `HuggingFaceTB`, `nexusflowai` for `Nexusflow`), or the repo carries the model's own name.
Only repos the card (or its licence link) points to are candidates: a name alone never makes a repo anyone's."""

from __future__ import annotations

import re

from extractors.text import squash

MIN_SHARED = 4  # a shared stem shorter than this ("ai", "lm") says nothing


def same_organisation(hub_org: str, github_owner: str) -> bool:
    """One name is the other with something added (`databricks` / `databrickslabs`, `HuggingFaceTB` /
    `huggingface`, `deep-floyd` / `DeepFloyd`): the shorter, squashed, begins the longer."""
    short, long = sorted((squash(hub_org), squash(github_owner)), key=len)
    return len(short) >= MIN_SHARED and long.startswith(short)


def carries_model_name(model_name: str, repo_name: str) -> bool:
    """The repo is named after the model or its family: `smollm` for `SmolLM3-3B`, `ChatMusician` for
    `ChatMusician`, `NexusRaven-V2` for `NexusRaven-V2-13B`."""
    model, repo = squash(model_name), squash(repo_name)
    return len(repo) >= MIN_SHARED and model.startswith(repo)


def is_own_repo(model_id: str, github_repo: str, relation: str = "code_repo") -> bool:
    """A repo the model's card links is its own when it carries the model's name, or its owner is the Hub
    organisation, or an alias of it and the repo shares a word with the model's name; the repo its `license_link`
    names always is."""
    if relation == "licence_link":
        return True
    org, _, name = model_id.partition("/")
    owner, _, repo = github_repo.partition("/")
    if carries_model_name(name, repo) or squash(org) == squash(owner):
        return True
    # Under an alias of the org (`huggingface` for `HuggingFaceH4`), only a repo that shares a word with the model's
    # name: the alias also owns the tools every model uses (`huggingface/transformers`), which are no one's own.
    return same_organisation(org, owner) and bool(_words(name) & _words(repo))


def _words(name: str) -> set[str]:
    return {w for w in (squash(part) for part in re.split(r"[-_.\s]+", name)) if len(w) >= MIN_SHARED}


def names_own_model(model_id: str, text: str) -> bool:
    """The text names the model's organisation or a word of the model's name (`ChatMusician-Base` for
    `m-a-p/ChatMusician`), so what it names may be the model's own; `LLaMA2` names neither."""
    org, _, name = model_id.partition("/")
    said = squash(text)
    return any(word in said for word in (squash(org), *_words(name)) if len(word) >= MIN_SHARED)
