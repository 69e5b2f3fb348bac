from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviewflow.reviews"
    label = "reviews"
    verbose_name = "Reviews"
