"""Writes of the screening app: imports (identification), and later deduplication and votes."""
