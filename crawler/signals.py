"""Signals of our own, sent by spiders so the CLI can show progress without the spider knowing about it."""

# A subject (model, dataset) was added to the crawl: the progress total grows.
subject_found = object()
# A subject's last open request was answered: one more done.
subject_done = object()
