from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = "Identification and screening"

    def ready(self) -> None:
        from screening import signals  # noqa: F401  (connects the receivers)
