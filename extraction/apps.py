from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "extraction"
    verbose_name = "Data extraction"

    def ready(self) -> None:
        # An update round's changelog lists new extraction values too; screening, which
        # writes the changelog, does not import extraction.
        from extraction.selectors import round_extraction_section
        from screening.services.rounds import SECTION_PROVIDERS

        if round_extraction_section not in SECTION_PROVIDERS:
            SECTION_PROVIDERS.append(round_extraction_section)
