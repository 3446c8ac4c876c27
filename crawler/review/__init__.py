"""Analyst review in the browser: Datasette over the store, with our metadata, canned queries and login."""
