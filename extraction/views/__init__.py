"""Extraction pages, by topic: forms (the builder), extractions (the overview and one
extractor's form), consensus (comparison and adjudication), exports (downloads). Each view
checks access, calls services, renders."""
