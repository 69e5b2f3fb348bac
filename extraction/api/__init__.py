"""REST API of extraction, by topic: forms, extractions, consensus (same services as the
pages).

Blinding holds here as in the pages: a reviewer lists their own extractions, and the other
extractions of a study only once every extractor of it (them included) has submitted;
owners list every extraction but see values only of complete studies; viewers see forms
and the consensus only. Non-members get 404.
"""
