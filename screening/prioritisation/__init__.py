"""Screening prioritisation, pure: features, model, ranking, stopping rules, recall curve and
simulation. No ORM here: services pass arrays in and store what comes out."""
