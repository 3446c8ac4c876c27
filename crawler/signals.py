"""Signals of our own, sent by spiders so the CLI can show progress without the spider knowing about it."""

# Sent with `units=N` each time a spider finishes N of a model's steps (model JSON, card, tree).
model_step = object()
