"""Writes of extraction, by concern: forms and their versions (``forms``), an extractor's
slots, drafts and submissions (``extractions``), and the consensus (``consensus``). Reads
that several callers share are in ``extraction.selectors``."""
