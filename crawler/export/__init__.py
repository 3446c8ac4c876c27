"""Exports that seed other tools: JSON Lines, CSV, the index's YAML, SPDX 3 AI-BOM, CycloneDX ML-BOM, badges."""
